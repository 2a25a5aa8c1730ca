"""
Learned vs Gaussian measurements on block-sparse data
=====================================================

Trains :class:`~skunroll.sensing.L1AEEncoder` on the paper's Synthetic1 data
(one block of 10 nonzeros among 1,000 coordinates) for a few values of m and
compares its exact recovery under l1-min-pos decoding with random Gaussian
measurements. Runs in about a minute on a CPU; saves ``l1ae_synthetic.png``
when matplotlib is installed.
"""

import warnings

from sklearn.exceptions import ConvergenceWarning

from skunroll import GaussianMeasurement, L1AEEncoder
from skunroll.datasets import make_block_sparse
from skunroll.metrics import exact_recovery_fraction

X = make_block_sparse(n_samples=8300, n_features=1000, random_state=0)
X_train, X_test = X[:8000], X[8000:]

ms = [10, 20, 30]
learned_exact, gaussian_exact = [], []
for m in ms:
    learned = L1AEEncoder(n_components=m, max_epochs=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        learned.fit(X_train)
    gaussian = GaussianMeasurement(n_components=m, random_state=0).fit(X_train)
    learned_exact.append(
        exact_recovery_fraction(X_test, learned.inverse_transform(learned.transform(X_test))))
    gaussian_exact.append(
        exact_recovery_fraction(X_test, gaussian.inverse_transform(gaussian.transform(X_test))))
    print(f"m={m}: l1-AE {learned_exact[-1]:.1%}, Gaussian {gaussian_exact[-1]:.1%} "
          f"({learned.n_iter_} epochs)")

try:
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
if plt is not None:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(ms, learned_exact, "o-", label="l1-AE + l1-min-pos")
    ax.plot(ms, gaussian_exact, "s--", label="Gaussian + l1-min-pos")
    ax.set_xlabel("number of measurements m")
    ax.set_ylabel("fraction exactly recovered")
    ax.legend()
    fig.tight_layout()
    fig.savefig("l1ae_synthetic.png", dpi=100)
