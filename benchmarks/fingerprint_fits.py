"""Fingerprints of fitted state, to show a refactor leaves behaviour bit for bit unchanged.

Every public estimator, on fixed small data, for seeds 0 and 1 (and the
variants in ``VARIANTS``, whose code paths the defaults do not reach): ``fit``,
two ``partial_fit`` chunks where the estimator has it, ``transform`` and,
for the measurement estimators, ``inverse_transform``. Each fitted array
attribute (names ending in ``_``) and each output is hashed (SHA-256 of its
dtype, shape and bytes), on the CPU with one torch thread.

Run::

    python benchmarks/fingerprint_fits.py --out before.json   # on the old commit
    python benchmarks/fingerprint_fits.py --compare before.json

``--compare`` lists every hash that differs and exits with status 1 if any does.
"""

import argparse
import hashlib
import json
import sys
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.datasets import load_digits

from skunroll.datasets import make_block_sparse
from skunroll.utils import all_estimators

SEEDS = (0, 1)
#: Small, fast settings, wherever an estimator takes them.
FAST = {"n_components": 6, "max_epochs": 3, "batch_size": 32, "device": "cpu"}
#: Per estimator: its own settings and which data it fits.
SPECIAL = {
    "LearnedSketchLowRank": ({"n_components": 1, "sketch_size": 4, "matrix_shape": (8, 8)},
                             "images"),
    "DeepL0Classifier": ({}, "images"),
    "CompressedLabelClassifier": ({}, "labels"),
}


def digest(value):
    array = np.ascontiguousarray(value)
    header = f"{array.dtype.str}{array.shape}".encode()
    return hashlib.sha256(header + array.tobytes()).hexdigest()[:16]


def fitted_arrays(estimator):
    return {name: digest(value) for name, value in sorted(vars(estimator).items())
            if name.endswith("_") and not name.startswith("_")
            and isinstance(value, np.ndarray) and value.dtype != object}


def dense(value):
    return value.toarray() if sp.issparse(value) else value


def data(kind):
    if kind == "images":
        X, y = load_digits(return_X_y=True)
        return (X[:400] / 16).astype(np.float64), y[:400]
    if kind == "labels":
        rng = np.random.RandomState(0)
        Y = (rng.uniform(size=(300, 20)) < 0.15).astype(int)
        X = Y @ rng.normal(size=(20, 30)) + 0.1 * rng.normal(size=(300, 30))
        return X, Y
    X = make_block_sparse(300, 40, random_state=0)
    return (X.toarray() if hasattr(X, "toarray") else np.asarray(X)), None


def fingerprints(name, cls, seed, extra=None):
    params, kind = SPECIAL.get(name, ({}, "vectors"))
    accepted = cls().get_params()
    settings = {k: v for k, v in FAST.items() if k in accepted}
    settings.update(params)
    settings.update(extra or {})
    if "random_state" in accepted:
        settings["random_state"] = seed
    X, y = data(kind)
    prints = {}
    estimator = cls(**settings)
    estimator.fit(X, y) if y is not None else estimator.fit(X)
    prints.update({f"fit/{k}": v for k, v in fitted_arrays(estimator).items()})
    if hasattr(estimator, "transform"):
        Z = estimator.transform(X[:50])
        prints["fit/transform"] = digest(Z)
        if hasattr(estimator, "inverse_transform") and kind == "vectors":
            prints["fit/inverse_transform"] = digest(estimator.inverse_transform(Z))
    if hasattr(estimator, "predict"):
        prints["fit/predict"] = digest(estimator.predict(X[:50]))
    if hasattr(estimator, "decision_function"):
        prints["fit/decision_function"] = digest(dense(estimator.decision_function(X[:50])))
    if name == "CompressedLabelClassifier":
        prints["fit/noise_level_scores_"] = digest(list(estimator.noise_level_scores_.values()))
        # Sparse labels: the sparse score path.
        sparse_fit = cls(**settings).fit(X, sp.csr_matrix(y))
        prints["sparse/decision_function"] = digest(dense(sparse_fit.decision_function(X[:50])))
    if hasattr(estimator, "partial_fit"):
        stream = cls(**settings)
        for rows in (slice(0, 150), slice(150, 300)):
            if y is None:
                stream.partial_fit(X[rows])
            elif name == "DeepL0Classifier":
                stream.partial_fit(X[rows], y[rows], classes=np.unique(y))
            else:
                stream.partial_fit(X[rows], y[rows])
        prints.update({f"partial_fit/{k}": v for k, v in fitted_arrays(stream).items()})
    return prints


#: Variants whose code paths the defaults do not reach: (estimator, its extra settings).
VARIANTS = [
    ("LearnedSketchLowRank", {"init": "random"}),
    ("LearnedSketchLowRank", {"init": "inner-product"}),
    ("LearnedSketchLowRank", {"init": "few-shot", "objective": "few-shot", "n_shots": 2}),
    ("LearnedSketchLowRank", {"sketch": "mixed-joint"}),
    ("LearnedSketchLowRank", {"sketch": "mixed-separate"}),
    ("LearnedSketchLowRank", {"sketch": "tensor"}),
    ("LearnedSketchLowRank", {"sketch": "gaussian"}),
    ("DeepL0Encoder", {"sparsity": "M", "n_nonzero_coefs": 2}),
    ("L1AEEncoder", {"recipe": "paper"}),
    ("ReLUDictionaryAutoencoder", {"bias": "learned"}),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out")
    parser.add_argument("--compare")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    classes = dict(all_estimators())
    result = {f"{name}/seed={seed}": fingerprints(name, cls, seed)
              for name, cls in classes.items() for seed in SEEDS}
    for name, extra in VARIANTS:
        label = ",".join(f"{k}={v}" for k, v in extra.items())
        result[f"{name}({label})/seed=0"] = fingerprints(name, classes[name], 0, extra)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1, sort_keys=True)
    if args.compare:
        with open(args.compare) as f:
            before = json.load(f)
        differ = [f"{run}: {key}" for run in sorted(set(before) | set(result))
                  for key in sorted(set(before.get(run, {})) | set(result.get(run, {})))
                  if before.get(run, {}).get(key) != result.get(run, {}).get(key)]
        total = sum(len(v) for v in result.values())
        print(f"{total} fingerprints, {len(differ)} differ")
        for line in differ:
            print("  ", line)
        sys.exit(1 if differ else 0)
    if not args.out:
        print(json.dumps(result, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
