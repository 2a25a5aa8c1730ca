"""The code the documentation shows runs: README.md, the user guide's code blocks, examples/.

Quick versions: training is capped at a few epochs (and the deep l0 encoders'
dictionary learning at a few passes) by patching the shared loop's plan; the
numbers the pages quote come from full runs (``benchmarks/``).

The examples run in full in the docs build (sphinx-gallery aborts on any
error), which the README's test command runs after pytest; here they are run
quickly only with ``pytest -m gallery``.
"""

import contextlib
import dataclasses
import io
import re
import runpy
import warnings
from pathlib import Path

import pytest

import skunroll.sparse_coding._deep_l0_base as deep_l0
from skunroll._training import BaseTorchEstimator

ROOT = Path(__file__).resolve().parent.parent
QUICK_EPOCHS = 2


def _python_blocks(path):
    """The Python code blocks of a Markdown (```python) or reST (code-block) page."""
    text = path.read_text()
    if path.suffix == ".md":
        return [m.group(1) for m in re.finditer(r"```python\n(.*?)```", text, re.S)]
    blocks = []
    for m in re.finditer(r"\.\. code-block:: python\n\n((?:(?:   .*)?\n)+)", text):
        blocks.append("\n".join(line[3:] for line in m.group(1).splitlines()))
    return blocks


def _trained_classes():
    seen, stack = [], [BaseTorchEstimator]
    while stack:
        cls = stack.pop()
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return [cls for cls in seen if "_training_plan" in cls.__dict__]


@pytest.fixture
def quick(monkeypatch, tmp_path):
    for cls in _trained_classes():
        original = cls.__dict__["_training_plan"]

        def capped(self, n_train, _original=original):
            plan = _original(self, n_train)
            return dataclasses.replace(plan, max_epochs=min(plan.max_epochs, QUICK_EPOCHS))

        monkeypatch.setattr(cls, "_training_plan", capped)
    learn = deep_l0._learn_dictionary

    def short_dictionary_fit(X, n_components, max_iter, *args, **kwargs):
        return learn(X, n_components, min(max_iter, 2), *args, **kwargs)

    monkeypatch.setattr(deep_l0, "_learn_dictionary", short_dictionary_fit)
    monkeypatch.chdir(tmp_path)  # anything a page or an example writes stays out of the tree
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short fits warn that they are still improving
        yield


PAGES = [ROOT / "README.md", *sorted((ROOT / "doc").glob("*.rst"))]
PAGE_IDS = [page.name for page in PAGES]


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
@pytest.mark.slow
def test_code_blocks_of_the_page_run(page, quick):
    # The blocks of one page share a namespace, as a reader runs them in order.
    namespace = {}
    for index, code in enumerate(_python_blocks(page)):
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, f"{page.name}, block {index + 1}", "exec"), namespace)


def test_the_pages_have_code_to_run():
    # The extraction works (a changed fence would silently run nothing).
    counts = {page.name: len(_python_blocks(page)) for page in PAGES}
    assert counts["README.md"] >= 3 and counts["sensing.rst"] >= 1
    assert counts["sparse_coding.rst"] >= 2 and counts["dictionary_learning.rst"] >= 1


EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


@pytest.mark.gallery
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example_runs(example, quick):
    pytest.importorskip("matplotlib")
    with contextlib.redirect_stdout(io.StringIO()) as out:
        runpy.run_path(str(example), run_name="__main__")
    assert out.getvalue().strip(), f"{example.name} printed nothing"


def test_every_example_is_in_the_gallery():
    # sphinx-gallery renders (and so runs) a file only with a title docstring.
    for example in EXAMPLES:
        text = example.read_text()
        assert text.startswith('"""'), f"{example.name} has no gallery header"
        assert "plt." in text or "matplotlib" in text, f"{example.name} draws no figure"
