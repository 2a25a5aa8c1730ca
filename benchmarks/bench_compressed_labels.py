"""Multi-label classification through compressed label spaces: Yeast and a synthetic XML set.

For each data set, P@1/3/5 (skunroll.metrics.precision_at_k) and training /
predict wall time of:

- CompressedLabelClassifier (Ridge regressor) with a learned l1-AE encoder
  (the default noise-aware lasso decoder, the exact LP decoder l1-min-pos, and
  the linear decoder A^T z), a Gaussian encoder (the same three) and a
  PCA-like encoder (TruncatedSVD), at several m;
- one-vs-rest logistic regression (liblinear, C=10 and C=1, n_jobs=2), and ridge
  regression on the full label matrix (no compression);
- a kNN-on-embedding baseline in the spirit of SLEEC: the same Ridge predicts
  a TruncatedSVD embedding of the labels, and a sample's label scores are the
  summed label vectors of its 10 nearest training samples in that space
  (cosine).

Data: Yeast (MULAN, via river; the first 1,500 genes train, the other 917
test, MULAN's split) and a synthetic XML set with 2,000 power-law labels
(``make_linear_xml`` below: 4 labels per sample, 300 dense features that are a
noisy sum of the labels' random prototypes; 5,000 train / 1,000 test).
(``make_multilabel_classification`` with 1,500 labels was tried first: with
~13 samples per label every method, one-vs-rest included, stayed near chance.)

    python benchmarks/bench_compressed_labels.py
    python benchmarks/bench_compressed_labels.py --datasets yeast
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler, normalize

from skunroll.datasets import load_yeast
from skunroll.exceptions import DecodingWarning
from skunroll.metrics import precision_at_k
from skunroll.multilabel import CompressedLabelClassifier
from skunroll.sensing import GaussianMeasurement, L1AEEncoder

RESULTS = Path(__file__).parent / "results"


def datasets(names):
    if "yeast" in names:
        X, Y = load_yeast()
        X = StandardScaler().fit(X[:1500]).transform(X)
        yield "yeast", (X[:1500], X[1500:], Y[:1500], Y[1500:]), [4, 7, 10]
    if "synthetic-xml" in names:
        X, Y = make_linear_xml(random_state=0)
        yield "synthetic-xml", (X[:5000], X[5000:], Y[:5000], Y[5000:]), [50, 100, 200]


def make_linear_xml(n_samples=6000, n_features=300, n_labels=2000, n_per_sample=4, noise=0.5,
                    random_state=0):
    """Power-law labels, features = noisy sum of the labels' random prototypes.

    Label j is drawn with probability proportional to 1 / (j + 10) (a long
    tail, as in XML data; columns shuffled at the end), ``n_per_sample`` distinct labels per sample; every
    label occurs in the first 5,000 samples at least once. ``X = normalize(Y
    P + noise * G)`` with Gaussian prototypes ``P`` and noise ``G``.
    """
    rng = np.random.RandomState(random_state)
    weights = 1.0 / (np.arange(n_labels) + 10)
    rows, columns = [], []
    for i in range(n_samples):
        labels = set(rng.choice(n_labels, n_per_sample, replace=False, p=weights / weights.sum()))
        if i < n_labels // 2:  # every label in the training part at least once
            labels = set(list(labels)[: n_per_sample - 2]) | {2 * i, 2 * i + 1}
        rows.extend([i] * len(labels))
        columns.extend(labels)
    Y = sp.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, columns)),
                      shape=(n_samples, n_labels))
    prototypes = rng.normal(size=(n_labels, n_features))
    X = Y.astype(np.float64) @ prototypes + noise * rng.normal(size=(n_samples, n_features))
    # Shuffle the label columns: the label index says nothing about its frequency, so
    # ties broken towards the lower index (LP decoders give many zero scores) earn nothing.
    return normalize(X), Y[:, rng.permutation(n_labels)]


class EmbeddingKNN:
    """SLEEC-like baseline: regress a label embedding, vote with embedding neighbours."""

    def __init__(self, n_components, n_neighbors=10):
        self.n_components = n_components
        self.n_neighbors = n_neighbors

    def fit(self, X, Y):
        self.Y_ = sp.csr_matrix(Y, dtype=np.float64)
        self.svd_ = TruncatedSVD(self.n_components, random_state=0).fit(self.Y_)
        embedding = self.svd_.transform(self.Y_)
        self.ridge_ = Ridge(tol=1e-6).fit(X, embedding)
        self.neighbors_ = NearestNeighbors(n_neighbors=self.n_neighbors,
                                           metric="cosine").fit(embedding)
        return self

    def decision_function(self, X):
        _, neighbors = self.neighbors_.kneighbors(self.ridge_.predict(X))
        rows = np.repeat(np.arange(len(neighbors)), neighbors.shape[1])
        votes = sp.csr_matrix((np.ones(rows.size), (rows, neighbors.ravel())),
                              shape=(len(neighbors), self.Y_.shape[0]))
        return (votes @ self.Y_).toarray()


class FullRidge:
    """One ridge regression per label, all at once (scores comparable across labels)."""

    def fit(self, X, Y):
        self.ridge_ = Ridge(tol=1e-6).fit(X, sp.csr_matrix(Y, dtype=np.float64).toarray())
        return self

    def decision_function(self, X):
        return self.ridge_.predict(X)


def methods(ms, n_labels, lp_max_m):
    for C in (10, 1):
        yield f"one-vs-rest logistic regression, C={C}", None, lambda C=C: OneVsRestClassifier(
            LogisticRegression(C=C, solver="liblinear"), n_jobs=2)
    yield "ridge on the full label matrix (no compression)", None, FullRidge
    for m in ms:
        lr = 0.01 if m <= 0.05 * n_labels or n_labels < 100 else 0.003
        l1ae = L1AEEncoder(n_components=m, max_epochs=30, learning_rate=lr, recipe="paper", device="cpu",
                           random_state=0)
        gaussian = GaussianMeasurement(m, random_state=0)
        yield "learned (l1-AE), lasso (default)", m, lambda e=l1ae: CompressedLabelClassifier(
            e, random_state=0)
        if m <= lp_max_m:
            yield "learned (l1-AE), LP", m, lambda e=l1ae: CompressedLabelClassifier(
                e, decoder="l1-min-pos")
        yield "learned (l1-AE), linear", m, lambda e=l1ae: CompressedLabelClassifier(
            e, decoder="linear")
        yield "Gaussian, lasso (default)", m, lambda e=gaussian: CompressedLabelClassifier(
            e, random_state=0)
        if m <= lp_max_m:
            yield "Gaussian, LP", m, lambda e=gaussian: CompressedLabelClassifier(
                e, decoder="l1-min-pos")
        yield "Gaussian, linear", m, lambda e=gaussian: CompressedLabelClassifier(
            e, decoder="linear")
        yield "PCA (TruncatedSVD)", m, lambda m=m: CompressedLabelClassifier(
            TruncatedSVD(m, random_state=0))
        yield "kNN on embedding (SLEEC-like)", m, lambda m=m: EmbeddingKNN(m)


def run(name, split, ms, lp_max_m):
    X_train, X_test, Y_train, Y_test = split
    n_labels = Y_train.shape[1]
    rows = []
    for method, m, make in methods(ms, n_labels, lp_max_m):
        start = time.perf_counter()
        try:
            model = make().fit(X_train, Y_train)
        except Exception as exc:  # report, e.g., a diverging l1-AE, and go on
            print(f"{name} {method} m={m}: failed to fit: {type(exc).__name__}: {exc}", flush=True)
            rows.append({"method": method, "m": m, "error": f"{type(exc).__name__}: {exc}"})
            continue
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DecodingWarning)
            scores = model.decision_function(X_test)
        predict_seconds = time.perf_counter() - start
        row = {"method": method, "m": m, "fit_seconds": fit_seconds,
               "predict_seconds": predict_seconds,
               "lp_fallback_warnings": sum(issubclass(w.category, DecodingWarning)
                                           for w in caught)}
        for k in (1, 3, 5):
            row[f"P@{k}"] = precision_at_k(Y_test, scores, k=k)
        rows.append(row)
        print(f"{name} {method} m={m}: P@1 {row['P@1']:.3f} P@3 {row['P@3']:.3f} "
              f"P@5 {row['P@5']:.3f}, fit {fit_seconds:.1f}s, predict {predict_seconds:.1f}s"
              + (f", {row['lp_fallback_warnings']} fallback warnings"
                 if row["lp_fallback_warnings"] else ""), flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["yeast", "synthetic-xml"])
    # Per-vector HiGHS LPs take ~0.1 s each at m = 100, L = 2,000 (issue 7's batched decoder).
    parser.add_argument("--lp-max-m", type=int, default=100,
                        help="skip the LP decoders above this m")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    RESULTS.mkdir(exist_ok=True)
    results = {}
    for name, split, ms in datasets(args.datasets):
        print(f"{name}: {split[0].shape[0]} train / {split[1].shape[0]} test, "
              f"{split[2].shape[1]} labels, {np.asarray(split[2].sum(axis=1)).mean():.2f} "
              "per sample", flush=True)
        results[name] = run(name, split, ms, args.lp_max_m)
    (RESULTS / "compressed_labels.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
