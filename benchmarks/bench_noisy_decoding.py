"""Decoding predicted, rounded and noisy measurements: noise-aware decoders and XML at scale.

Sections (``--sections``, all by default):

- ``text``: real text with code mentions as labels. Docstrings of the
  scientific Python stack installed here (scikit-learn, SciPy, NumPy, pandas,
  torch, Matplotlib, scikit-image, dask), TF-IDF of the text with the
  ``:func:`name``` and ````name```` mentions taken out; those mentions
  (occurring in at least 8 docstrings) are the labels. A
  ``CompressedLabelClassifier`` (Ridge regressor) with a learned l1-AE encoder
  and a Gaussian one at m = 100; on the same fitted encoder and regressor,
  the predicted test embeddings are decoded by: the previous default (exact
  l1-min-pos, the batched homotopy, then one HiGHS LP per infeasible row,
  then the linear fallback), exact l1-min-pos now (infeasible rows certified
  and given their nearest fit), the linear decoder ``A^T z``, and the lasso
  and BPDN at the held-out noise level (the new default). P@1/3/5 and predict
  time; plus ridge on the full label matrix.
- ``precision``: the lasso decoder against scikit-learn's ``Lasso`` (coordinate
  descent, tol 1e-14) on certified rows: largest difference, share certified;
  predicted embeddings of ``text`` (nonnegative) and noisy synthetic signed data.
- ``float32``: decode time of exact measurements (exact decoder) vs
  measurements rounded to float32 and measurements with 1e-3 relative noise,
  decoded exactly and by the lasso / BPDN (noise level ``"auto"`` for the
  rounded ones, the true level for the noisy ones): block-sparse data
  (d = 1,000, 1,000 rows), Gaussian A at m = 60.
- ``xml``: synthetic power-law label sets with L = 10,000 and 100,000 labels
  (sparse Y, 3 labels per row on average, every label in the training rows;
  features a noisy sum of random label prototypes, or with
  ``--xml-features nonlinear`` a random ReLU layer of it), each method in a
  fresh process so that its peak RSS is its own: the
  compressed classifier (Gaussian and l1-AE encoders, m = 200, new default
  decoder, ``predict`` streaming sparse top-5 output), kNN on the features
  (cosine, 10 neighbours' label votes), napkinxc's probabilistic label tree
  (PLT, the ``xml`` extra) as the tree-based XML anchor, ridge on the full
  label matrix (skipped where the dense n x L target alone passes 4 GB), and
  one-vs-rest logistic regression (timed on 100 labels and extrapolated: its
  P@k needs all L models).

    nice python benchmarks/bench_noisy_decoding.py
    nice python benchmarks/bench_noisy_decoding.py --sections xml --xml-labels 10000

JSON in ``benchmarks/results/noisy_decoding.json``.
"""

import argparse
import copy
import json
import resource
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from _data import docstring_mentions
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import Lasso, Ridge
from sklearn.preprocessing import normalize

from skunroll.datasets import make_block_sparse
from skunroll.decoding import l1_min_decode, lasso_decode, noise_alpha
from skunroll.decoding._per_row import highs_lp
from skunroll.exceptions import DecodingWarning
from skunroll.metrics import precision_at_k
from skunroll.multilabel import CompressedLabelClassifier
from skunroll.sensing import GaussianMeasurement, L1AEEncoder

RESULTS = Path(__file__).parent / "results"


# ------------------------------------------------------------------ text data
def text_split(random_state=0):
    texts, Y = docstring_mentions()
    order = np.random.RandomState(random_state).permutation(len(texts))
    n_train = int(0.7 * len(texts))
    train, test = order[:n_train], order[n_train:]
    vectorizer = TfidfVectorizer(min_df=2, max_features=20000, sublinear_tf=True)
    X_train = vectorizer.fit_transform([texts[i] for i in train])
    X_test = vectorizer.transform([texts[i] for i in test])
    return X_train, X_test, Y[train], Y[test]


def previous_default_scores(clf, embedding):
    """The decoder before noise-aware decoding: l1-min-pos, HiGHS per infeasible row, linear."""
    A = clf.encoder_.components_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DecodingWarning)
        X, info = l1_min_decode(A, embedding, positive=True, return_info=True)
        rest = np.flatnonzero(~info["certified"])
        if rest.size:  # what the batched solver used to hand to HiGHS, one LP each
            X[rest], success, _, _ = highs_lp(A, embedding[rest], True)
            failed = rest[~success]
            X[failed] = embedding[failed] @ A
    return X, int(rest.size)


def text(args):
    X_train, X_test, Y_train, Y_test = text_split()
    print(f"text: {X_train.shape[0]} train / {X_test.shape[0]} test rows, {X_train.shape[1]} "
          f"features, {Y_train.shape[1]} labels, {Y_train.sum(axis=1).mean():.2f} per row",
          flush=True)
    rows = []

    def score(name, scores, seconds, **extra):
        row = {"method": name, "predict_seconds": round(seconds, 3), **extra}
        for k in (1, 3, 5):
            row[f"P@{k}"] = round(precision_at_k(Y_test, scores, k=k), 4)
        rows.append(row)
        print(row, flush=True)

    start = time.perf_counter()
    ridge = Ridge(tol=1e-6).fit(X_train, Y_train.toarray())
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores = ridge.predict(X_test)
    score("ridge on the full label matrix", scores, time.perf_counter() - start,
          fit_seconds=round(fit_seconds, 1))
    encoders = {"learned (l1-AE)": L1AEEncoder(n_components=args.m, random_state=0),
                "Gaussian": GaussianMeasurement(args.m, random_state=0)}
    for encoder_name, encoder in encoders.items():
        start = time.perf_counter()
        clf = CompressedLabelClassifier(encoder, random_state=0).fit(X_train, Y_train)
        fit_seconds = time.perf_counter() - start
        embedding = clf.regressor_.predict(X_test)
        start = time.perf_counter()
        decoded, n_lp = previous_default_scores(clf, embedding)
        score(f"{encoder_name}, previous default (exact + HiGHS + linear)", decoded,
              time.perf_counter() - start, per_vector_lps=n_lp)
        for decoder in ("l1-min-pos", "linear", "bpdn-pos", "lasso-pos"):
            variant = copy.copy(clf)
            variant.decoder_ = decoder  # same fitted encoder and regressor, another decoder
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DecodingWarning)
                scores = variant._decode(embedding)
            extra = {}
            if decoder == "lasso-pos":
                extra = {"fit_seconds": round(fit_seconds, 1), "noise_level": clf.noise_level_,
                         "held_out_P@5": {f"{level:.3g}": round(value, 4) for level, value
                                          in clf.noise_level_scores_.items()}}
            name = f"{encoder_name}, {decoder}" + (" (new default)" if decoder == "lasso-pos"
                                                   else "")
            score(name, scores, time.perf_counter() - start, **extra)
    return rows


# ---------------------------------------------------------------- precision
def lasso_reference(A, Y, alpha, positive):
    m = A.shape[0]
    out = np.empty((len(Y), A.shape[1]))
    for i, y in enumerate(Y):
        out[i] = Lasso(alpha=alpha[i] / m, positive=positive, fit_intercept=False, tol=1e-14,
                       max_iter=10**6).fit(A, y).coef_
    return out


def precision(args):
    rows = []
    X_train, X_test, Y_train, _ = text_split()
    clf = CompressedLabelClassifier(GaussianMeasurement(args.m, random_state=0),
                                    random_state=0).fit(X_train, Y_train)
    embedding = clf.regressor_.predict(X_test)
    A = clf.encoder_.components_
    rng = np.random.RandomState(0)
    X = make_block_sparse(n_samples=1000, n_features=1000, random_state=0)
    X = np.asarray(X.toarray() if sp.issparse(X) else X) * rng.choice([-1.0, 1.0], (1000, 1000))
    A_signed = rng.normal(size=(100, 1000)) / 10.0
    Y_signed = X @ A_signed.T
    Y_signed += 1e-3 * np.abs(Y_signed).mean() * rng.normal(size=Y_signed.shape)
    problems = {
        "text, predicted embeddings, lasso-pos": (A, embedding, True,
                                                  noise_alpha(A, clf.noise_level_, True)),
        "block-sparse signed, 1e-3 noise, lasso": (A_signed, Y_signed, False,
                                                   noise_alpha(A_signed, 1e-3 * np.abs(
                                                       Y_signed).mean(), False)),
    }
    for name, (A, Y, positive, alpha) in problems.items():
        alpha = np.full(len(Y), float(alpha))
        start = time.perf_counter()
        X_hat, info = lasso_decode(A, Y, alpha=alpha, positive=positive, return_info=True)
        seconds = time.perf_counter() - start
        checked = np.flatnonzero(info["certified"])[: args.reference_rows]
        start = time.perf_counter()
        reference = lasso_reference(A, Y[checked], alpha[checked], positive)
        reference_seconds = time.perf_counter() - start
        row = {"problem": name, "rows": len(Y), "certified": round(info["certified"].mean(), 4),
               "max_abs_difference_vs_sklearn_Lasso": float(np.abs(X_hat[checked]
                                                                   - reference).max()),
               "rows_compared": len(checked), "batched_seconds": round(seconds, 3),
               "sklearn_seconds_per_row": round(reference_seconds / len(checked), 4)}
        rows.append(row)
        print(row, flush=True)
    return rows


# ------------------------------------------------------------------ float32
def float32(args):
    X = make_block_sparse(n_samples=1000, n_features=1000, random_state=0)
    X = np.asarray(X.toarray() if sp.issparse(X) else X)
    encoder = GaussianMeasurement(60, random_state=0).fit(X)
    A = encoder.components_
    exact = X @ A.T
    rounded = (X.astype(np.float32) @ A.T.astype(np.float32)).astype(np.float64)
    rng = np.random.RandomState(0)
    level = 1e-3 * np.sqrt(np.mean(exact**2))
    noisy = exact + level * rng.normal(size=exact.shape)
    cases = [
        ("exact measurements, l1-min-pos", exact, "l1-min-pos", None),
        ("float32 measurements, l1-min-pos", rounded, "l1-min-pos", None),
        ("float32 measurements, lasso-pos (noise auto)", rounded.astype(np.float32),
         "lasso-pos", "auto"),
        ("float32 measurements, bpdn-pos (noise auto)", rounded.astype(np.float32),
         "bpdn-pos", "auto"),
        ("1e-3 noise, l1-min-pos", noisy, "l1-min-pos", None),
        ("1e-3 noise, lasso-pos (true level)", noisy, "lasso-pos", level),
        ("1e-3 noise, bpdn-pos (true level)", noisy, "bpdn-pos", level),
    ]
    rows = []
    base = None
    for name, Y, decoder, noise_level in cases:
        encoder.set_params(decoder=decoder, noise_level=noise_level or "auto")
        best = np.inf
        for _ in range(args.repeats):
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DecodingWarning)
                X_hat = encoder.inverse_transform(Y)
            best = min(best, time.perf_counter() - start)
        base = base or best
        error = np.linalg.norm(X_hat - X, axis=1) / np.linalg.norm(X, axis=1)
        row = {"case": name, "seconds": round(best, 3), "vs_exact": round(best / base, 2),
               "exact_recovery_1e-4": round(float(np.mean(np.abs(X_hat - X).max(axis=1) < 1e-4)),
                                            4),
               "median_relative_error": float(np.median(error))}
        rows.append(row)
        print(row, flush=True)
    return rows


# ---------------------------------------------------------------------- xml
def make_power_law_xml(n_samples, n_labels, n_features=300, labels_per_row=3, noise=0.5,
                       nonlinear=False, random_state=0):
    """Sparse power-law labels, features from random label prototypes; never dense in L.

    Label j has weight 1 / (j + 10); a row draws ``labels_per_row`` labels by
    inverse-CDF sampling (duplicates merged), and rows ``2 i, 2 i + 1 < L``
    also get labels ``i`` so that every label occurs. ``X = normalize(Y P +
    noise G)``; ``nonlinear``: ``X = normalize(ReLU((Y P + noise G) W))``.
    """
    rng = np.random.RandomState(random_state)
    weights = 1.0 / (np.arange(n_labels) + 10.0)
    cdf = np.cumsum(weights) / weights.sum()
    draws = np.searchsorted(cdf, rng.uniform(size=(n_samples, labels_per_row)))
    rows = np.repeat(np.arange(n_samples), labels_per_row)
    covered = np.arange(min(n_labels, 2 * n_samples))
    rows = np.concatenate([rows, covered // 2])
    columns = np.concatenate([draws.ravel(), covered])
    Y = sp.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(n_samples, n_labels))
    Y.data[:] = 1.0  # duplicates summed to 2: back to 0/1
    prototypes = rng.normal(size=(n_labels, n_features)).astype(np.float32)
    X = np.asarray(Y.astype(np.float32) @ prototypes)
    X += noise * rng.normal(size=X.shape).astype(np.float32)
    if nonlinear:
        X = np.maximum(X @ rng.normal(size=(n_features, n_features)).astype(np.float32), 0)
    order = rng.permutation(n_labels)  # the label index says nothing about its frequency
    return normalize(X), Y[:, order].tocsr()


def _peak_rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _xml_split(n_labels, nonlinear):
    n_train = max(20000, n_labels // 2 + 10000)
    X, Y = make_power_law_xml(n_train + 1000, n_labels, nonlinear=nonlinear)
    return X[:n_train], X[n_train:], Y[:n_train], Y[n_train:]


def _xml_method(method, n_labels, nonlinear, m, max_time):
    """One method in a fresh process: fit, predict top-5, P@k, its own peak RSS."""
    warnings.simplefilter("ignore")
    import torch

    torch.set_num_threads(2)
    X_train, X_test, Y_train, Y_test = _xml_split(n_labels, nonlinear)
    data_gb = _peak_rss_gb()
    row = {"method": method, "labels": n_labels, "train_rows": X_train.shape[0],
           "features": "nonlinear" if nonlinear else "linear"}
    start = time.perf_counter()
    if method.startswith("compressed"):
        encoder = (GaussianMeasurement(m, random_state=0) if "Gaussian" in method else
                   L1AEEncoder(n_components=m, max_time=max_time, random_state=0))
        model = CompressedLabelClassifier(encoder, random_state=0).fit(X_train, Y_train)
        row["fit_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        scores = model.decision_function(X_test)  # sparse: top 100 per row, streamed
        row["noise_level"] = model.noise_level_
    elif method == "kNN (cosine, 10 neighbours)":
        from sklearn.neighbors import NearestNeighbors

        model = NearestNeighbors(n_neighbors=10, metric="cosine").fit(X_train)
        row["fit_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        _, neighbours = model.kneighbors(X_test)
        votes = sp.csr_matrix((np.ones(neighbours.size),
                               (np.repeat(np.arange(len(X_test)), 10), neighbours.ravel())),
                              shape=(len(X_test), X_train.shape[0]))
        scores = votes @ Y_train
    elif method == "napkinxc PLT":
        from napkinxc.models import PLT

        labels = np.split(Y_train.indices, Y_train.indptr[1:-1])
        model = PLT(str(RESULTS / f"plt_{n_labels}"), threads=2, seed=0)
        model.fit(sp.csr_matrix(X_train), [list(map(int, row)) for row in labels])
        row["fit_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        predicted = model.predict_proba(sp.csr_matrix(X_test), top_k=5)
        r, c, v = zip(*((i, label, p) for i, pairs in enumerate(predicted)
                        for label, p in pairs), strict=False) if predicted else ((), (), ())
        scores = sp.csr_matrix((v, (r, c)), shape=Y_test.shape)
    elif method == "ridge on the full label matrix":
        model = Ridge(tol=1e-6).fit(X_train, Y_train.toarray())
        row["fit_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        scores = model.predict(X_test)
    elif method == "one-vs-rest logistic regression (100 labels, extrapolated)":
        from sklearn.linear_model import LogisticRegression

        for j in range(100):
            LogisticRegression(C=10, solver="liblinear").fit(X_train, Y_train[:, j].toarray()
                                                             .ravel())
        row["fit_seconds"] = (time.perf_counter() - start) * n_labels / 100
        row["note"] = "fit time extrapolated from 100 labels; no P@k (needs all L models)"
        row["peak_rss_gb"] = _peak_rss_gb()
        return row
    row["predict_seconds"] = time.perf_counter() - start
    for k in (1, 3, 5):
        row[f"P@{k}"] = round(precision_at_k(Y_test, scores, k=k), 4)
    row["peak_rss_gb"] = round(_peak_rss_gb(), 2)
    row["data_only_rss_gb"] = round(data_gb, 2)
    return row


XML_METHODS = ["compressed, Gaussian, lasso-pos", "compressed, l1-AE, lasso-pos",
               "kNN (cosine, 10 neighbours)", "napkinxc PLT", "ridge on the full label matrix",
               "one-vs-rest logistic regression (100 labels, extrapolated)"]


def xml(args):
    rows = []
    methods = [method for method in XML_METHODS
               if not args.xml_methods or any(part in method for part in args.xml_methods)]
    for n_labels in args.xml_labels:
        for nonlinear in sorted({features == "nonlinear" for features in args.xml_features}):
            for method in methods:
                n_train = max(20000, n_labels // 2 + 10000)
                if method.startswith("ridge") and n_train * n_labels * 8 > 4 * 2**30:
                    row = {"method": method, "labels": n_labels,
                           "skipped": f"the dense {n_train} x {n_labels} target alone is "
                                      f"{n_train * n_labels * 8 / 2**30:.0f} GB"}
                else:
                    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
                        try:
                            row = pool.submit(_xml_method, method, n_labels, nonlinear, args.m_xml,
                                              args.max_time).result()
                        except Exception as exc:  # e.g. napkinxc missing: report, go on
                            row = {"method": method, "labels": n_labels,
                                   "error": f"{type(exc).__name__}: {exc}"}
                rows.append(row)
                print(row, flush=True)
    return rows


SECTIONS = {"text": text, "precision": precision, "float32": float32, "xml": xml}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=list(SECTIONS))
    parser.add_argument("--m", type=int, default=100)
    parser.add_argument("--m-xml", type=int, default=200)
    parser.add_argument("--xml-labels", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--xml-features", nargs="+", default=["linear"],
                        choices=["linear", "nonlinear"])
    parser.add_argument("--xml-methods", nargs="+", default=[],
                        help="run only the xml methods whose names contain one of these")
    parser.add_argument("--max-time", type=float, default=300.0,
                        help="training budget of the l1-AE encoder in the xml section (s)")
    parser.add_argument("--reference-rows", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "noisy_decoding.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for name in args.sections:
        results[name] = SECTIONS[name](args)
        path.write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
