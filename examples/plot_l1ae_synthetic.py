"""
Learned vs Gaussian measurements on block-sparse data
=====================================================

:class:`~skunroll.sensing.L1AEEncoder` learns an m x d measurement matrix by
unrolling the subgradient steps of l1-min decoding (Wu et al., ICML 2019).
We train it on block-sparse vectors (the paper's Synthetic1 model: one block
of 10 consecutive nonzeros) for several numbers of measurements m, and
compare the fraction of test vectors that the exact l1-min-pos decoder
recovers with that of random Gaussian measurements
(:class:`~skunroll.sensing.GaussianMeasurement`) decoded the same way.

To run in seconds, the vectors here are 200-dimensional (the paper's are
1,000) and each fit is capped at 12 epochs over 1,500 rows; the README gives
the full-size numbers.
"""

import warnings

import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning

from skunroll import GaussianMeasurement, L1AEEncoder
from skunroll.datasets import make_block_sparse
from skunroll.metrics import exact_recovery_fraction, recovery_rmse

X = make_block_sparse(n_samples=1800, n_features=200, block_size=10, random_state=0)
X_train, X_test = X[:1500], X[1500:]
print(f"{X_train.shape[0]} training and {X_test.shape[0]} test vectors of dimension "
      f"{X.shape[1]}, {X[0].nnz} nonzeros each")

# %%
# Fitting both encoders for each m
# --------------------------------
#
# ``transform`` measures (y = A x), ``inverse_transform`` decodes with the
# exact LP (l1-min-pos: the vectors are nonnegative). The Gaussian matrix is
# drawn, not trained, so its ``fit`` only records the shapes.
ms = [10, 15, 20, 30, 40, 60]
results = {"l1-AE (learned)": ([], []), "Gaussian (random)": ([], [])}
for m in ms:
    learned = L1AEEncoder(n_components=m, max_epochs=12, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # capped fits may still improve
        learned.fit(X_train)
    gaussian = GaussianMeasurement(n_components=m, random_state=0).fit(X_train)
    for name, encoder in zip(results, (learned, gaussian), strict=True):
        X_hat = encoder.inverse_transform(encoder.transform(X_test))
        results[name][0].append(exact_recovery_fraction(X_test, X_hat))
        results[name][1].append(recovery_rmse(X_test, X_hat))
    print(f"m={m:2d}: exact recovery l1-AE {results['l1-AE (learned)'][0][-1]:6.1%}, "
          f"Gaussian {results['Gaussian (random)'][0][-1]:6.1%}")

# %%
# Recovery against the number of measurements
# -------------------------------------------
#
# The learned matrix exploits the block structure the data have, so it needs
# far fewer measurements than a random one for exact recovery; the random
# matrix only catches up once m is large enough for generic 10-sparse vectors.
fig, (ax_exact, ax_rmse) = plt.subplots(1, 2, figsize=(9, 3.5))
for (name, (exact, rmse)), style in zip(results.items(), ("o-", "s--"), strict=True):
    ax_exact.plot(ms, exact, style, label=name)
    ax_rmse.plot(ms, rmse, style, label=name)
ax_exact.set_xlabel("number of measurements m")
ax_exact.set_ylabel("fraction exactly recovered")
ax_exact.set_title(f"Exact recovery, d = {X.shape[1]}")
ax_exact.set_ylim(-0.03, 1.03)
ax_exact.legend(loc="lower right")
ax_rmse.set_xlabel("number of measurements m")
ax_rmse.set_ylabel("recovery RMSE")
ax_rmse.set_title("Recovery error (l1-min-pos decoder)")
ax_rmse.legend(loc="upper right")
fig.tight_layout()
plt.show()
