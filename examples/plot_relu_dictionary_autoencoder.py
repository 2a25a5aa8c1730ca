"""
Learning an overcomplete dictionary with a tied-weight ReLU autoencoder
========================================================================

Signals are drawn from the sparse-coding model of Rangamani et al. (ISIT
2018): ``y = A* x*`` with 120 incoherent unit-norm atoms in R^60 and
nonnegative codes with 4 nonzeros in [1, 2].
:class:`~skunroll.sparse_coding.ReLUDictionaryAutoencoder` learns the atoms
back from the signals alone, with one hidden ReLU layer whose weights are the
dictionary. We compare the learned atoms with the true ones and with those of
scikit-learn's ``MiniBatchDictionaryLearning``, look at the codes the hidden
layer computes with each bias, and choose the starting atoms by grid search.

Training is capped at 30 epochs so that the example runs in seconds.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import MiniBatchDictionaryLearning
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from skunroll.datasets import make_nonnegative_sparse_code
from skunroll.metrics import dictionary_recovery_error, support_precision_recall
from skunroll.sparse_coding import ReLUDictionaryAutoencoder

warnings.simplefilter("ignore", ConvergenceWarning)  # capped fits may still improve
Y, true_atoms, true_codes = make_nonnegative_sparse_code(
    n_samples=6000, n_features=60, n_components=120, n_nonzero_coefs=4, random_state=0)
Y_train, Y_test = Y[:5000], Y[5000:]
codes_test = true_codes[5000:]
print(f"signals {Y.shape}, dictionary {true_atoms.shape}, "
      f"{int((true_codes[0] > 0).sum())} nonzeros per code")

# %%
# Learning the dictionary
# -----------------------
#
# The error is the mean ``1 - |cos|`` between each true atom and the learned
# atom it is matched to (0 is perfect; the matching ignores order and sign).
# A random dictionary scores about 0.66.
random_atoms = np.random.RandomState(1).normal(size=true_atoms.shape)
model = ReLUDictionaryAutoencoder(n_components=120, max_epochs=30, random_state=0).fit(Y_train)
error, matching, _ = dictionary_recovery_error(true_atoms, model.components_,
                                               return_matching=True)
minibatch = MiniBatchDictionaryLearning(n_components=120, max_iter=10, fit_algorithm="cd",
                                        positive_code=True, random_state=0).fit(Y_train)
dictionaries = {"ReLU autoencoder": model.components_,
                "MiniBatchDictionaryLearning": minibatch.components_,
                "random atoms": random_atoms}
for name, atoms in dictionaries.items():
    print(f"{name:28s} error {dictionary_recovery_error(true_atoms, atoms):.4f}")
print(f"ReLU autoencoder: {model.n_iter_} epochs, bias {model.bias_:.3f}")

# %%
# Learned atoms next to the true ones
# -----------------------------------
#
# Six true atoms (60 coordinates each) and the learned atoms matched to them,
# with the sign that best aligns them.
fig, axes = plt.subplots(2, 3, figsize=(9, 4.5), sharex=True, sharey=True)
for ax, atom in zip(axes.ravel(), range(6), strict=True):
    learned = model.components_[matching[atom]]
    learned = learned * np.sign(learned @ true_atoms[atom])
    cosine = abs(learned @ true_atoms[atom]) / np.linalg.norm(learned)
    ax.plot(true_atoms[atom], color="black", linewidth=2.5, alpha=0.4, label="true atom")
    ax.plot(learned, color="C1", linewidth=1, label="learned atom")
    ax.set_title(f"atom {atom}: |cos| = {cosine:.3f}", fontsize="medium")
for ax in axes[1]:
    ax.set_xlabel("coordinate")
axes[0, 0].legend(fontsize="small", loc="lower left")
fig.suptitle("ReLU autoencoder: true and learned atoms")
fig.tight_layout()
plt.show()

# %%
# All 120 atoms
# -------------
#
# For every true atom, the ``|cos|`` with its matched atom in each learned
# dictionary, sorted: a curve at 1 across the plot is a dictionary recovered
# in full.
fig, ax = plt.subplots(figsize=(6, 3.6))
for (name, atoms), style in zip(dictionaries.items(), ("-", "--", ":"), strict=True):
    _, match, _ = dictionary_recovery_error(true_atoms, atoms, return_matching=True)
    matched = atoms[match] / np.linalg.norm(atoms[match], axis=1, keepdims=True)
    cosines = np.abs(np.sum(matched * true_atoms, axis=1))
    ax.plot(np.sort(cosines)[::-1], style, linewidth=2, label=name)
ax.set_xlabel("true atoms, best recovered first")
ax.set_ylabel("|cos| with matched atom")
ax.set_ylim(0, 1.02)
ax.legend(loc="lower left")
fig.tight_layout()
plt.show()

# %%
# The codes
# ---------
#
# ``transform`` is the hidden layer ``ReLU(W y - bias)``. Its columns follow
# the learned atoms, so put them in the order of the true atoms before
# comparing supports. The default bias (``"auto"``) keeps nearly every true
# unit on and most others off: that is what learning needs.
codes = model.transform(Y_test)[:, matching]
precision, recall = support_precision_recall(codes_test, codes)
print(f"learned atoms, bias 'auto': support precision {precision:.2f}, recall {recall:.2f}")

# With the true dictionary and the higher "support" bias of the paper's
# Theorem 3.1, the ReLU layer alone finds the support of most codes exactly,
# once the signals are long enough (here 400-dimensional, 800 atoms).
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
# Model selection
# ---------------
#
# ``score`` is minus the mean squared reconstruction error, so
# ``GridSearchCV`` works out of the box, here over the starting atoms. Do not
# use it to choose ``n_components`` or ``bias``: more atoms and a lower
# threshold always reconstruct better, whatever the true dictionary.
search = GridSearchCV(ReLUDictionaryAutoencoder(n_components=120, max_epochs=30,
                                                random_state=0),
                      {"init": ["random", "data"]}, cv=3).fit(Y_train)
results = search.cv_results_
for init, score in zip(results["param_init"], results["mean_test_score"], strict=True):
    print(f"init={init!r}: mean squared reconstruction error {-score:.3f}")
print(f"chosen: {search.best_params_}, dictionary error "
      f"{dictionary_recovery_error(true_atoms, search.best_estimator_.components_):.4f}")
