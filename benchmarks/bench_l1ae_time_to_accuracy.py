"""Epochs and wall time an L1AEEncoder recipe (the paper's by default) needs to pass a target
exact-recovery rate.

Synthetic1 (d=1000, 10,000 rows, 60/20/20 split as the paper), m=20. Training
runs in chunks of ``--chunk`` epochs (warm_start, with a RandomState so the
batch order keeps moving on); after each chunk the test set is decoded with
l1-min-pos. Decoding time is not counted as training time.

    python benchmarks/bench_l1ae_time_to_accuracy.py --target 0.96
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skunroll import L1AEEncoder
from skunroll.datasets import make_block_sparse
from skunroll.metrics import exact_recovery_fraction, recovery_rmse


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-components", type=int, default=20)
    parser.add_argument("--target", type=float, default=0.96)
    parser.add_argument("--chunk", type=int, default=25)
    parser.add_argument("--max-epochs", type=int, default=2000)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--recipe", choices=["paper", "stable"], default="paper",
                        help="L1AEEncoder recipe (the figures in benchmarks/README.md: paper)")
    args = parser.parse_args(argv)

    X = make_block_sparse(10000, 1000, random_state=args.seed)
    X_fit, X_test = X[:8000], X[8000 : 8000 + args.n_test]
    encoder = L1AEEncoder(
        args.n_components,
        max_epochs=args.chunk,
        recipe=args.recipe,
        validation_fraction=0.25,
        warm_start=True,
        n_jobs=args.n_jobs,
        device=args.device,
        random_state=np.random.RandomState(args.seed),
    )
    train_time = 0.0
    print("epochs,train_seconds,exact_recovery,rmse,validation_loss,beta", flush=True)
    while True:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            encoder.fit(X_fit)
        train_time += time.perf_counter() - start
        X_hat = encoder.inverse_transform(encoder.transform(X_test))
        exact = exact_recovery_fraction(X_test, X_hat)
        print(
            f"{encoder.n_iter_},{train_time:.1f},{exact:.4f},{recovery_rmse(X_test, X_hat):.4f},"
            f"{-encoder.best_validation_score_:.5f},{encoder.step_sizes_[0]:.4f}",
            flush=True,
        )
        if exact >= args.target:
            print(f"passed {args.target:.0%} after {encoder.n_iter_} epochs, "
                  f"{train_time:.1f} s training")
            break
        if encoder.n_iter_ >= args.max_epochs:
            print(f"did not pass {args.target:.0%} within {encoder.n_iter_} epochs "
                  f"({train_time:.1f} s)")
            break


if __name__ == "__main__":
    main()
