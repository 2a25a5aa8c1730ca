"""Time per vector of the exact LP decoders (HiGHS) at d = 1,000 and d ~ 8,000.

- d = 1,000: Synthetic1 vectors, a trained L1AEEncoder at m = 20 (60 epochs) and Gaussian A.
- d = 8,044: one-hot flights rows (needs the ``benchmarks`` extra), Gaussian A at m = 100.

    python benchmarks/bench_lp_decode.py
"""

import argparse
import time
import warnings

from sklearn.exceptions import ConvergenceWarning

from skunroll import GaussianMeasurement, L1AEEncoder
from skunroll.datasets import load_flights_onehot, make_block_sparse
from skunroll.exceptions import DecodingWarning
from skunroll.metrics import exact_recovery_fraction


def time_decoder(name, encoder, X, n_jobs):
    Y = encoder.transform(X)
    encoder.set_params(n_jobs=n_jobs)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DecodingWarning)
        X_hat = encoder.inverse_transform(Y)
    seconds = time.perf_counter() - start
    print(f"  {name}: d={X.shape[1]}, m={Y.shape[1]}, {X.shape[0]} vectors, n_jobs={n_jobs}: "
          f"{1000 * seconds / X.shape[0]:.1f} ms per vector "
          f"(exact recovery {exact_recovery_fraction(X, X_hat):.1%})", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-vectors", type=int, default=200)
    args = parser.parse_args(argv)

    X = make_block_sparse(10000, 1000, random_state=0)
    X_fit, X_test = X[:8000], X[8000 : 8000 + args.n_vectors]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        learned = L1AEEncoder(20, max_epochs=60, validation_fraction=0.25, random_state=0)
        learned.fit(X_fit)
    gaussian = GaussianMeasurement(20, random_state=0).fit(X_fit)
    print("l1-min-pos, HiGHS via scipy.optimize.linprog")
    for n_jobs in (1, 2):
        time_decoder("l1-AE A", learned, X_test, n_jobs)
        time_decoder("Gaussian A", gaussian, X_test, n_jobs)

    flights = load_flights_onehot(args.n_vectors // 4, random_state=0)
    rows = flights
    gaussian = GaussianMeasurement(100, random_state=0).fit(flights)
    for n_jobs in (1, 2):
        time_decoder("Gaussian A (flights)", gaussian, rows, n_jobs)


if __name__ == "__main__":
    main()
