"""
Learning an overcomplete dictionary with a tied-weight ReLU autoencoder
========================================================================

Signals are drawn from the sparse-coding model of Rangamani et al. (2018):
``y = A* x*`` with 120 incoherent unit-norm atoms in R^60 and nonnegative
codes with 4 nonzeros in [1, 2]. A ``ReLUDictionaryAutoencoder`` learns the
atoms back from the signals alone; we measure how close they are to the true
ones, compare with scikit-learn's ``MiniBatchDictionaryLearning``, look at the
codes the hidden layer computes with each bias, and run a grid search.
About 10 seconds on 2 CPU cores; no optional dependency.
"""

import time
import warnings

import numpy as np
from sklearn.decomposition import MiniBatchDictionaryLearning
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from skunroll.datasets import make_nonnegative_sparse_code
from skunroll.metrics import dictionary_recovery_error, support_precision_recall
from skunroll.sparse_coding import ReLUDictionaryAutoencoder

warnings.simplefilter("ignore", ConvergenceWarning)
Y, true_atoms, true_codes = make_nonnegative_sparse_code(
    n_samples=6000, n_features=60, n_components=120, n_nonzero_coefs=4, random_state=0)
Y_train, Y_test = Y[:5000], Y[5000:]
codes_test = true_codes[5000:]
print(f"signals {Y.shape}, dictionary {true_atoms.shape}, "
      f"{int((true_codes[0] > 0).sum())} nonzeros per code")

# %%
# Learning the dictionary. The error is the mean 1 - |cos| between each true
# atom and its matched learned atom (0 is perfect); a random dictionary
# scores about 0.66.
random_atoms = np.random.RandomState(1).normal(size=true_atoms.shape)
print(f"random dictionary: error {dictionary_recovery_error(true_atoms, random_atoms):.3f}")

start = time.perf_counter()
model = ReLUDictionaryAutoencoder(n_components=120, random_state=0).fit(Y_train)
seconds = time.perf_counter() - start
error, matching, _ = dictionary_recovery_error(true_atoms, model.components_,
                                               return_matching=True)
print(f"ReLU autoencoder: error {error:.4f} in {seconds:.1f}s, {model.n_iter_} epochs, "
      f"bias {model.bias_:.3f}")

start = time.perf_counter()
minibatch = MiniBatchDictionaryLearning(n_components=120, max_iter=50, fit_algorithm="cd",
                                        positive_code=True, random_state=0).fit(Y_train)
seconds = time.perf_counter() - start
print(f"MiniBatchDictionaryLearning (50 epochs): error "
      f"{dictionary_recovery_error(true_atoms, minibatch.components_):.4f} in {seconds:.1f}s")

# %%
# The codes. ``transform`` is the hidden layer ReLU(W y - bias). Its columns
# follow the learned atoms, so put them in the order of the true atoms before
# comparing supports. The default bias ("auto") keeps nearly every true unit
# on and most others off: that is what learning needs.
codes = model.transform(Y_test)[:, matching]
precision, recall = support_precision_recall(codes_test, codes)
print(f"learned atoms, bias 'auto': support precision {precision:.2f}, recall {recall:.2f}")

# With the true dictionary and the higher "support" bias of Theorem 3.1, the
# ReLU layer alone finds the support of most codes exactly, once the signals
# are long enough (here 400-dimensional, 800 atoms).
Y_big, atoms_big, codes_big = make_nonnegative_sparse_code(1000, 400, 800, random_state=0)
for bias in ["auto", "support"]:
    # max_epochs=0: no training, an encoder for the given dictionary.
    encoder = ReLUDictionaryAutoencoder(800, bias=bias, dictionary=atoms_big,
                                        max_epochs=0).fit(Y_big)
    hidden = encoder.transform(Y_big)
    exact = np.mean(np.all((hidden > 0) == (codes_big > 0), axis=1))
    precision, recall = support_precision_recall(codes_big, hidden)
    print(f"true 800-atom dictionary, bias {bias!r} = {encoder.bias_:.3f}: exact support on "
          f"{exact:.0%} of signals, precision {precision:.2f}, recall {recall:.2f}")

# %%
# Model selection. ``score`` is minus the mean squared reconstruction error,
# so GridSearchCV works out of the box, here over the starting atoms. Do not
# use it to choose ``n_components`` or ``bias``: more atoms and a lower
# threshold always reconstruct better, whatever the true dictionary.
search = GridSearchCV(ReLUDictionaryAutoencoder(n_components=120, random_state=0),
                      {"init": ["random", "data"]}, cv=3).fit(Y_train)
results = search.cv_results_
for init, score in zip(results["param_init"], results["mean_test_score"], strict=True):
    print(f"init={init!r}: mean squared reconstruction error {-score:.3f}")
best = search.best_estimator_
print(f"chosen: {search.best_params_}, dictionary error "
      f"{dictionary_recovery_error(true_atoms, best.components_):.4f}")
