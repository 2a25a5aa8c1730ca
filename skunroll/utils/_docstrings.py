"""Docstring text that several estimators share, written once.

A docstring writes ``{name}`` where a shared piece belongs and :func:`fill_doc`
puts the piece there when the class is created. Pieces are plain strings; a
piece may itself hold placeholders of pieces given after it. Shared numpydoc
parameter blocks live in a ``{parameter: block}`` dict from which a class
takes the ones it has with :func:`parameter_blocks`.
"""

import inspect
import textwrap

_INDENT = " " * 4


def fill_doc(**pieces):
    """Class decorator: replace each ``{name}`` in the docstring by ``pieces[name]``.

    Pieces are substituted in the order given, so a piece may hold the
    placeholders of the pieces after it.
    """
    def decorate(cls):
        cls.__doc__ = substitute(cls.__dict__.get("__doc__"), pieces)
        return cls
    return decorate


def substitute(doc, pieces):
    """``doc`` with each ``{name}`` replaced by ``pieces[name]``, in order."""
    if not doc:
        return doc
    for name, text in pieces.items():
        doc = doc.replace(f"{{{name}}}", text)
    return doc


def parameter_block(name, kind, text, default=inspect.Parameter.empty):
    """One numpydoc parameter block, wrapped and indented for a class docstring."""
    head = f"{name} : {kind}"
    if default is not inspect.Parameter.empty:
        head += f", default={default!r}".replace("'", '"')
    body = textwrap.fill(text, width=88, initial_indent=_INDENT * 2,
                         subsequent_indent=_INDENT * 2)
    return f"{_INDENT}{head}\n{body}\n"


def parameter_blocks(blocks, *names):
    """The blocks of ``names`` from a ``{parameter: block}`` dict, joined, in that order.

    The result is meant for a placeholder standing alone on its line, so its
    first indent and last newline are left to the docstring.
    """
    return "".join(blocks[name] for name in names).strip(" ").rstrip("\n")
