"""
Learned CountSketch for low-rank approximation of recurring matrices
====================================================================

A family of matrices from one "scene" (a shared low-rank signal on a few rows,
noise everywhere, as frames of a video) is split into training and test
matrices. CountSketches learned on the training matrices (the default: greedy
positions, then SGD on the values; the paper's values-only SGD from a random
hash; the positions alone; mixed and inner-product-initialised sketches) are
compared with a random CountSketch of the same size and with scikit-learn's
randomized SVD, by the excess error over the best rank-k approximation. Then
a grid search picks the sketch size. About a minute on 2 CPU cores; no
optional dependency.
"""

import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.utils.extmath import randomized_svd

from skunroll.datasets import make_low_rank_family
from skunroll.metrics import excess_low_rank_error
from skunroll.sketching import LearnedSketchLowRank

warnings.simplefilter("ignore", ConvergenceWarning)
matrices = make_low_rank_family(n_matrices=200, n_rows=300, n_columns=200, rank=5,
                                n_signal_rows=40, noise=0.3, random_state=0)
train, test = matrices[:160], matrices[160:]
k, m = 5, 10

# %%
# Random vs learned sketches. ``score`` is minus the mean excess error
# ||A - SCW(S, A)||_F - ||A - [A]_k||_F, each matrix scaled to top singular
# value 10 (as the paper): 0 is optimal.
print(f"{len(train)} training and {len(test)} test matrices of "
      f"{train.shape[1]} x {train.shape[2]}; rank k = {k}, sketch size m = {m}")
variants = {
    "random CountSketch": dict(sketch="random"),
    "Gaussian sketch": dict(sketch="gaussian"),
    "default (greedy positions + SGD)": dict(),
    "greedy positions alone": dict(max_epochs=1, learning_rate=1e-12, early_stopping=False),
    "values only (the paper)": dict(init="random", lr_schedule="constant"),
    "mixed-joint (half learned)": dict(sketch="mixed-joint", init="random"),
    "learned, inner-product init": dict(init="inner-product"),
}
fitted = {}
for name, params in variants.items():
    start = time.perf_counter()
    fitted[name] = LearnedSketchLowRank(k, sketch_size=m, random_state=0, **params).fit(train)
    seconds = time.perf_counter() - start
    print(f"  {name:34s} test excess error {-fitted[name].score(test):.4f}  (fit {seconds:.1f} s)")

# The inner-product initialisation places rows by their cosine similarity in
# the *average* training matrix. Here each matrix mixes the shared rows with
# its own random weights, so the average is nearly rank one and a poor guide:
# expect it to lose to the values-only sketch on this data. The greedy search
# reads the Gram matrix sum_j A_j A_j^T instead, which keeps what the average
# loses.

# %%
# What ``transform`` returns: the factors of each approximation.
learned = fitted["default (greedy positions + SGD)"]
U, s, Vt = learned.transform(test[:1])[0]
print(f"factors of the first test matrix: U {U.shape}, s {s.shape}, Vt {Vt.shape}")
print(f"S is a scipy.sparse {learned.sketch_.shape} matrix with {learned.sketch_.nnz} nonzeros")

# %%
# The same budget with randomized SVD (Gaussian sketch of m columns, no power
# iterations) on the first test matrix, at the scale the scores use.
A = test[0]
scale = 10 / np.linalg.norm(A, 2)
factors = randomized_svd(A, k, n_oversamples=m - k, n_iter=0, random_state=0)
print(f"first test matrix, excess error: learned sketch "
      f"{scale * excess_low_rank_error(A, learned.approximate(A), k):.4f}, randomized_svd "
      f"{scale * excess_low_rank_error(A, factors, k):.4f}")

# %%
# Choosing the sketch size by cross-validation on the list of training matrices.
search = GridSearchCV(LearnedSketchLowRank(k, max_epochs=10, random_state=0),
                      {"sketch_size": [5, 10, 20]}, cv=3).fit(list(train))
results = search.cv_results_
for params, score in zip(results["params"], results["mean_test_score"], strict=True):
    print(f"  sketch_size={params['sketch_size']:3d}: mean validation excess error {-score:.4f}")
