"""Exact-recovery fraction and wall time: batched l1-min-pos decoding vs one HiGHS LP per vector.

Cases (``--cases``), each decoding ``--n-test`` held-out vectors with m at the
edge of exact recovery for its matrix:

- ``synthetic1-learned``: Synthetic1 (d = 1,000), the A of L1AEEncoder(m = 20)
  trained ``--epochs`` epochs with the default recipe;
- ``synthetic1-gaussian``: Synthetic1, Gaussian A with m = 60;
- ``flights-gaussian``: one-hot flights (d = 8,044, 7 nonzeros a row), Gaussian
  A with m = 70;
- ``flights-learned``: one-hot flights, the A of L1AEEncoder(m = 40, T = 10,
  lr 0.001) trained ``--flights-epochs`` epochs on 10,000 rows.

Solvers: ``solver="highs"`` with n_jobs = 1 and 2, and ``solver="batched"``
on the CPU and, when there is one, on a CUDA GPU. Every solver's output is
compared with HiGHS n_jobs = 1 (max abs difference) and scored by
:func:`exact_recovery_fraction` with the paper's threshold (l2 error < 1e-10)
and with 1e-8: HiGHS's own tolerances leave errors between 1e-10 and 1e-8 on
some vectors whose LP solution is the truth, while the certified batched
answers are least-squares solutions on their support (errors around 1e-15).
One untimed batched call on 10 vectors warms torch up first. JSON in ``benchmarks/results/``.

    python benchmarks/bench_batched_decode.py
"""

import argparse
import json
import os
import time
import warnings

import numpy as np
import torch
from _timing import timed
from sklearn.exceptions import ConvergenceWarning

from skunroll import GaussianMeasurement, L1AEEncoder
from skunroll.datasets import load_flights_onehot, make_block_sparse
from skunroll.decoding import l1_min_decode
from skunroll.metrics import exact_recovery_fraction

RESULTS = os.path.join(os.path.dirname(__file__), "results")
CASES = ("synthetic1-learned", "synthetic1-gaussian", "flights-gaussian", "flights-learned")


def make_case(name, args):
    if name.startswith("synthetic1"):
        X = make_block_sparse(10000, 1000, random_state=args.seed)
        X_fit, X_test = X[:8000], X[8000 : 8000 + args.n_test]
    else:
        X = load_flights_onehot(10000 + args.n_test, random_state=args.seed)
        X_fit, X_test = X[:10000], X[10000:]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if name == "synthetic1-learned":
            encoder = L1AEEncoder(20, max_epochs=args.epochs, recipe="paper",
                                  random_state=args.seed).fit(X_fit)
        elif name == "flights-learned":
            encoder = L1AEEncoder(40, n_steps=10, learning_rate=0.001, batch_size=256,
                                  recipe="paper", max_epochs=args.flights_epochs,
                                  random_state=args.seed)
            encoder.fit(X_fit)
        else:
            m = 60 if name == "synthetic1-gaussian" else 70
            encoder = GaussianMeasurement(m, random_state=args.seed).fit(X_fit)
    fit_seconds = time.perf_counter() - start
    X_test = X_test.toarray() if hasattr(X_test, "toarray") else np.asarray(X_test)
    A = encoder.components_.astype(np.float64)
    return A, X_test, X_test @ A.T, fit_seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--flights-epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.makedirs(RESULTS, exist_ok=True)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    report = {"torch_threads": torch.get_num_threads(), "cases": {}}
    for name in args.cases:
        A, X, Y, fit_seconds = make_case(name, args)
        print(f"\n{name}: A is {A.shape[0]} x {A.shape[1]}, {len(Y)} vectors, "
              f"fit {fit_seconds:.1f} s", flush=True)
        rows = {}
        reference, seconds = timed(lambda: l1_min_decode(A, Y, positive=True, solver="highs",
                                                         n_jobs=1))
        rows["highs, n_jobs=1"] = (reference, seconds, None)
        X_hat, seconds = timed(lambda: l1_min_decode(A, Y, positive=True, solver="highs",
                                                     n_jobs=2))
        rows["highs, n_jobs=2"] = (X_hat, seconds, None)
        for device in devices:
            l1_min_decode(A, Y[:10], positive=True, device=device)  # warm-up
            if device == "cuda":
                torch.cuda.synchronize()
            (X_hat, info), seconds = timed(lambda: l1_min_decode(
                A, Y, positive=True, solver="batched", device=device, return_info=True))
            rows[f"batched, {device}"] = (X_hat, seconds, info["certified"].mean())
        base = rows["highs, n_jobs=1"][1]
        case = {"shape": list(A.shape), "fit_seconds": fit_seconds, "solvers": {}}
        print(f"{'solver':<18} {'exact':>7} {'@1e-8':>7} {'seconds':>9} {'speed-up':>9} "
              f"{'certified':>10} {'max |diff|':>11}")
        for label, (X_hat, seconds, certified) in rows.items():
            exact = exact_recovery_fraction(X, X_hat)
            exact_loose = exact_recovery_fraction(X, X_hat, tol=1e-8)
            diff = float(np.nanmax(np.abs(X_hat - reference)))
            case["solvers"][label] = {
                "exact_recovery": exact, "exact_recovery_1e-8": exact_loose,
                "seconds": seconds, "speedup_vs_highs_1": base / seconds,
                "certified": certified, "max_abs_diff_vs_highs_1": diff,
            }
            shown = "" if certified is None else f"{certified:.1%}"
            print(f"{label:<18} {exact:>7.1%} {exact_loose:>7.1%} {seconds:>9.2f} "
                  f"{base / seconds:>8.1f}x {shown:>10} {diff:>11.1e}", flush=True)
        report["cases"][name] = case
    with open(os.path.join(RESULTS, "batched_decode.json"), "w") as handle:
        json.dump(report, handle, indent=2)


if __name__ == "__main__":
    main()
