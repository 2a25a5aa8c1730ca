"""
L1AEEncoder in a Pipeline and a grid search over m and T
========================================================

:class:`~skunroll.sensing.L1AEEncoder` is a scikit-learn transformer, so it
goes into a ``Pipeline`` and ``GridSearchCV`` like any other. Sparse input
stays sparse through the pipeline (``Normalizer`` keeps it CSR, and the
encoder densifies one mini-batch at a time). ``score`` is minus the mean
squared error of decoding the measurements of the held-out rows, here with
the exact l1-min-pos decoder. We search over the number of measurements m
(``n_components``) and the number of unrolled steps T (``n_steps``) that
training differentiates through.

Each fit is capped at 8 epochs so that the example runs in seconds.
"""

import warnings

import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer

from skunroll import L1AEEncoder
from skunroll.datasets import make_block_sparse

# Two blocks of 5 nonzeros among 200 coordinates, as a scipy.sparse CSR matrix.
X = make_block_sparse(n_samples=600, n_features=200, block_size=5, n_blocks=2, random_state=0)
print(f"X: {type(X).__name__} of shape {X.shape}, {X.nnz} nonzeros")

# %%
# The search
# ----------
#
# The parameters of a pipeline step are reached as ``step__parameter``. On
# large data, ``decoder="unrolled"`` scores with the trained network instead
# of the LP: much faster, and a coarser estimate of the error.
ms, n_steps = [10, 20, 40], [3, 10]
pipe = Pipeline([
    ("normalize", Normalizer()),
    ("encode", L1AEEncoder(max_epochs=8, random_state=0)),
])
search = GridSearchCV(pipe, {"encode__n_components": ms, "encode__n_steps": n_steps}, cv=3)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)  # capped fits may still improve
    search.fit(X)
results = search.cv_results_
for params, score in zip(results["params"], results["mean_test_score"], strict=True):
    print(params, f"mean squared error {-score:.4f}")
print("best:", search.best_params_)

# %%
# Validation error for each m and T
# ---------------------------------
#
# Mean squared decoding error on the held-out folds (lower is better; 1 is
# the error of decoding every row to zero), with the spread over the three
# folds as error bars.
row_of = {(p["encode__n_components"], p["encode__n_steps"]): i
          for i, p in enumerate(results["params"])}
fig, ax = plt.subplots(figsize=(6, 3.8))
for T, marker in zip(n_steps, "os", strict=True):
    rows = [row_of[m, T] for m in ms]
    ax.errorbar(ms, -results["mean_test_score"][rows], yerr=results["std_test_score"][rows],
                marker=marker, capsize=3, label=f"T = {T} unrolled steps")
ax.set_xlabel("number of measurements m")
ax.set_ylabel("validation mean squared error")
ax.set_title("GridSearchCV over the pipeline")
ax.set_xticks(ms)
ax.legend()
fig.tight_layout()
plt.show()
