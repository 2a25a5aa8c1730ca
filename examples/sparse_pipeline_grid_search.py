"""
L1AEEncoder in a Pipeline and a grid search over m and T
========================================================

Sparse input goes through the pipeline as sparse; ``score`` with
``decoder="unrolled"`` makes the search fast.
"""

import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer

from skunroll import L1AEEncoder
from skunroll.datasets import make_block_sparse

X = make_block_sparse(n_samples=3000, n_features=500, block_size=5, n_blocks=2, random_state=0)
pipe = Pipeline([
    ("normalize", Normalizer()),
    ("encode", L1AEEncoder(max_epochs=20, decoder="unrolled", random_state=0)),
])
search = GridSearchCV(pipe, {"encode__n_components": [20, 40], "encode__n_steps": [5, 10]}, cv=3)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X)
results = search.cv_results_
for params, score in zip(results["params"], results["mean_test_score"], strict=True):
    print(params, f"mean squared error {-score:.4f}")
print("best:", search.best_params_)
