"""
Unrolled sparse coding: code error against depth
================================================

Iterative hard thresholding (IHT) and ISTA compute sparse codes ``a`` of a
signal ``x`` for a dictionary ``D`` by repeating ``a <- h(W x + S a)`` many
times. :class:`~skunroll.sparse_coding.DeepL0Encoder` (Wang, Ling, Huang,
AAAI 2016) unrolls K of these steps into a network and trains ``W``, ``S``
and the thresholds to predict the codes that IHT converges to;
:class:`~skunroll.sparse_coding.LISTAEncoder` (Gregor and LeCun, ICML 2010)
does the same with the soft threshold, for the lasso codes that ISTA
converges to. On scikit-learn's handwritten digits we measure, for depths
K = 1 to 4, how far each network's codes are from the converged codes, and
how far K iterations of the algorithm it unrolls are.

Training is capped at 20 epochs over 800 images so that the example runs in
seconds; the user guide discusses the full-size numbers.
"""

import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from skunroll.metrics import normalized_code_error
from skunroll.sparse_coding import DeepL0Encoder, LISTAEncoder, fista, iht, ista

# The converged codes come from IHT capped at 1,000 iterations; on this
# coherent dictionary a few codes are still moving then, and it says so.
warnings.simplefilter("ignore", ConvergenceWarning)
X, _ = load_digits(return_X_y=True)
X = X / 16 - (X / 16).mean(axis=0)
X_train, X_test = X[:800], X[1400:]
depths = [1, 2, 3, 4]
settings = dict(n_components=64, max_epochs=20, learning_rate=3e-3, random_state=0)

# %%
# Deep l0 encoders against IHT
# ----------------------------
#
# The first fit learns the 64-atom dictionary; the deeper encoders start from
# the same one, so that every depth predicts the same target codes. The error
# is the normalised squared error (%) of the paper's tables, against the
# codes IHT converges to (``optimal_codes``). IHT runs from zero, with the same
# step and threshold the networks start from.
deep = {1: DeepL0Encoder(n_steps=1, **settings).fit(X_train)}
dictionary = deep[1].dictionary_
for K in depths[1:]:
    deep[K] = DeepL0Encoder(n_steps=K, dictionary=dictionary, **settings).fit(X_train)
target = deep[1].optimal_codes(X_test)
print(f"optimal l0 codes: {(target != 0).sum(axis=1).mean():.1f} nonzeros per image")
deep_error = [normalized_code_error(target, deep[K].transform(X_test)) for K in depths]
iht_error = [normalized_code_error(target, iht(X_test, dictionary, alpha=deep[K].alpha_,
                                                n_iter=K, step_size=deep[K].step_size_))
             for K in depths]
for K, d_err, i_err in zip(depths, deep_error, iht_error, strict=True):
    print(f"K={K}: deep l0 encoder {d_err:5.1f}%, IHT {i_err:5.1f}%")

# %%
# LISTA against ISTA and FISTA
# ----------------------------
#
# Same dictionary, now with the l1 penalty the estimator picks (``alpha_``)
# and the lasso codes as the target. FISTA is the accelerated ISTA.
lista = {K: LISTAEncoder(n_steps=K, dictionary=dictionary, **settings).fit(X_train)
         for K in depths}
lasso_target = lista[1].optimal_codes(X_test)
alpha, step = lista[1].alpha_, lista[1].step_size_
lista_error = [normalized_code_error(lasso_target, lista[K].transform(X_test)) for K in depths]
ista_error = [normalized_code_error(lasso_target, ista(X_test, dictionary, alpha=alpha,
                                                       n_iter=K, step_size=step, tol=None))
              for K in depths]
fista_error = [normalized_code_error(lasso_target, fista(X_test, dictionary, alpha=alpha,
                                                         n_iter=K, step_size=step, tol=None))
               for K in depths]
for K, errors in zip(depths, zip(lista_error, ista_error, fista_error, strict=True),
                     strict=True):
    print(f"K={K}: LISTA {errors[0]:5.1f}%, ISTA {errors[1]:5.1f}%, FISTA {errors[2]:5.1f}%")

# %%
# The curves
# ----------
#
# A trained network of depth K beats K iterations of the algorithm it
# unrolls by a wide margin: training tunes ``W``, ``S`` and the thresholds for
# the signals at hand. The deep l0 encoder's error levels off early on this
# dictionary: hard thresholding of such coherent atoms is a hard regression.
fig, (ax_l0, ax_l1) = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
ax_l0.plot(depths, deep_error, "o-", label="DeepL0Encoder (K stages)")
ax_l0.plot(depths, iht_error, "s--", label="IHT (K iterations)")
ax_l0.set_title("l0 codes")
ax_l1.plot(depths, lista_error, "o-", label="LISTAEncoder (K stages)")
ax_l1.plot(depths, ista_error, "s--", label="ISTA (K iterations)")
ax_l1.plot(depths, fista_error, "^:", label="FISTA (K iterations)")
ax_l1.set_title("l1 (lasso) codes")
ax_l0.set_ylabel("normalised code error (%)")
for ax in (ax_l0, ax_l1):
    ax.set_xlabel("depth K")
    ax.set_xticks(depths)
    ax.set_ylim(0, 100)
    ax.legend()
fig.tight_layout()
plt.show()
