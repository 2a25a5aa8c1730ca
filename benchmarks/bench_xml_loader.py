"""load_xml_repository (a vectorised NumPy parser) vs the pure-Python parser it replaced.

A file in the Extreme Classification Repository's text format (header
``n_samples n_features n_labels``, then ``l1,l2,... f:v f:v ...``) is written
with a fixed seed: power-law label and feature frequencies, per-row counts
drawn around ``--labels-per-row`` and ``--features-per-row`` (long-tailed),
sorted feature indices, six-decimal values, about 1% of the rows without
labels (they start with a space) and 0.5% without features. The pure-Python
parser the loader used before (today its fallback for files the vectorised
parser does not take, ``load_line_by_line``) and ``load_xml_repository`` read
it in turns, ``--repeats`` times each; the
script reports best-of and median wall seconds, best-of CPU seconds of the
process (steadier than wall time on a shared machine), their ratios, and
whether the two return the same arrays (shapes, dtypes, indices, index
pointers, values bit for bit, sortedness). It prints what it measured
whichever loader wins, and exits with an error after printing if the arrays
differ. ``--svmlight`` adds scikit-learn's ``load_svmlight_file`` alone on the
same lines (the reader the loader used in between, for reference; its
arrays are not compared).

    OMP_NUM_THREADS=1 nice python benchmarks/bench_xml_loader.py
    OMP_NUM_THREADS=1 nice python benchmarks/bench_xml_loader.py --n-rows 20000 --repeats 5
"""

import argparse
import json
import os
import statistics
import tempfile
import time

import numpy as np
import scipy.sparse as sp
from _timing import timed
from sklearn.datasets import load_svmlight_file

from skunroll.datasets import load_xml_repository
from skunroll.datasets._xml_format import load_line_by_line


def _load_line_by_line(path):
    """The measured baseline: the pure-Python parser, kept as the loader's fallback."""
    return load_line_by_line(path, None, None, np.float64)


def _svmlight_reader(path):
    """scikit-learn's svmlight reader on the lines after the header (multi-label, 0-based)."""
    with open(path, "rb") as handle:
        handle.readline()
        return load_svmlight_file(handle, dtype=np.float64, multilabel=True, zero_based=True)


def _row_counts(rng, n_rows, mean):
    # Long-tailed counts (lognormal, sigma 0.8) with the requested mean, at least 1.
    sigma = 0.8
    counts = rng.lognormal(np.log(mean) - sigma**2 / 2, sigma, size=n_rows)
    return np.maximum(np.rint(counts), 1).astype(np.int64)


def _power_law_rows(rng, counts, size, exponent):
    """Sorted distinct indices per row, index j drawn with density ~ j ** (1 / exponent - 1)."""
    rows = np.repeat(np.arange(len(counts)), counts)
    columns = np.minimum((size * rng.random(len(rows)) ** exponent).astype(np.int64), size - 1)
    keys = np.sort(rows * size + columns)
    keys = keys[np.r_[True, keys[1:] != keys[:-1]]]  # repeats within a row drawn once
    rows, columns = np.divmod(keys, size)
    return np.bincount(rows, minlength=len(counts)), columns


def write_xml_file(path, n_rows, n_features, n_labels, labels_per_row=5, features_per_row=50,
                   seed=0):
    """Write a generated data set in the repository's format; return its file size in bytes."""
    rng = np.random.default_rng(seed)
    label_counts = _row_counts(rng, n_rows, labels_per_row)
    label_counts[rng.random(n_rows) < 0.01] = 0
    feature_counts = _row_counts(rng, n_rows, features_per_row)
    feature_counts[rng.random(n_rows) < 0.005] = 0
    label_counts, labels = _power_law_rows(rng, label_counts, n_labels, 3.0)
    feature_counts, features = _power_law_rows(rng, feature_counts, n_features, 2.0)
    # Labels in a random order within their row, as in files written from sets.
    order = np.lexsort((rng.random(len(labels)), np.repeat(np.arange(n_rows), label_counts)))
    labels = list(map(str, labels[order].tolist()))
    values = rng.integers(1, 1_000_000, size=len(features))
    tokens = list(map("{}:0.{:06d}".format, features.tolist(), values.tolist()))
    label_ends, feature_ends = np.cumsum(label_counts), np.cumsum(feature_counts)
    with open(path, "w") as handle:
        handle.write(f"{n_rows} {n_features} {n_labels}\n")
        for i in range(n_rows):
            a, b = label_ends[i] - label_counts[i], label_ends[i]
            c, d = feature_ends[i] - feature_counts[i], feature_ends[i]
            handle.write(",".join(labels[a:b]) + " " + " ".join(tokens[c:d]) + "\n")
    return os.path.getsize(path)


def same_arrays(first, second):
    """Whether two (X, Y) pairs hold the same CSR arrays, values compared bit for bit."""
    for a, b in zip(first, second, strict=True):
        if not (sp.isspmatrix_csr(a) and sp.isspmatrix_csr(b)) or a.shape != b.shape:
            return False
        for name in ("data", "indices", "indptr"):
            x, y = getattr(a, name), getattr(b, name)
            if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
                return False
        if not (a.has_sorted_indices and b.has_sorted_indices):
            return False
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-rows", type=int, default=100_000)
    parser.add_argument("--n-features", type=int, default=100_000)
    parser.add_argument("--n-labels", type=int, default=30_000)
    parser.add_argument("--labels-per-row", type=float, default=5.0)
    parser.add_argument("--features-per-row", type=float, default=50.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--svmlight", action="store_true",
                        help="also time scikit-learn's load_svmlight_file alone")
    parser.add_argument("--out", default=None, help="JSON file for the figures")
    args = parser.parse_args(argv)
    loaders = {"python (before)": _load_line_by_line,
               "load_xml_repository": load_xml_repository}
    if args.svmlight:
        loaders["load_svmlight_file alone (reference)"] = _svmlight_reader
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "train.txt")
        size = write_xml_file(path, args.n_rows, args.n_features, args.n_labels,
                              args.labels_per_row, args.features_per_row, args.seed)
        seconds, cpu_seconds = {name: [] for name in loaders}, {name: [] for name in loaders}
        outputs = {}
        for _ in range(args.repeats):  # interleaved, so drift hits both loaders alike
            for name, loader in loaders.items():
                cpu = time.process_time()
                outputs[name], elapsed = timed(lambda: loader(path))
                cpu_seconds[name].append(time.process_time() - cpu)
                seconds[name].append(elapsed)
    X, Y = outputs["load_xml_repository"]
    identical = same_arrays(outputs["python (before)"], outputs["load_xml_repository"])
    print(f"{args.n_rows:,} rows, {args.n_features:,} features, {args.n_labels:,} labels: "
          f"{size / 1e6:.1f} MB, {X.nnz:,} feature and {Y.nnz:,} label nonzeros; "
          f"{args.repeats} interleaved repeats")
    print("| loader | best s | median s | best CPU s | rows/s (best) |\n|---|---|---|---|---|")
    for name, times in seconds.items():
        print(f"| {name} | {min(times):.3f} | {statistics.median(times):.3f} | "
              f"{min(cpu_seconds[name]):.3f} | {args.n_rows / min(times):,.0f} |")
    before, after = "python (before)", "load_xml_repository"
    ratios = {"best": min(seconds[before]) / min(seconds[after]),
              "median": statistics.median(seconds[before]) / statistics.median(seconds[after]),
              "best CPU": min(cpu_seconds[before]) / min(cpu_seconds[after])}
    print("before / after: " + ", ".join(f"{ratio:.2f}x ({kind})" for kind, ratio in
                                          ratios.items())
          + f"; arrays identical: {'yes' if identical else 'NO'}")
    if args.out:
        with open(args.out, "w") as handle:
            json.dump({"args": vars(args), "file_bytes": size, "x_nnz": int(X.nnz),
                       "y_nnz": int(Y.nnz), "seconds": seconds, "cpu_seconds": cpu_seconds,
                       "best_ratio": ratios["best"], "median_ratio": ratios["median"],
                       "best_cpu_ratio": ratios["best CPU"], "identical": identical},
                      handle, indent=1)
    if not identical:  # after printing, so the timings of a wrong run are still seen
        raise SystemExit("the two loaders returned different arrays")


if __name__ == "__main__":
    main()
