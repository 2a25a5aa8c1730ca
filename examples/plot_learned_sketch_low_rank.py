"""
Learned CountSketch for low-rank approximation of recurring matrices
====================================================================

:class:`~skunroll.sketching.LearnedSketchLowRank` approximates a matrix at
rank k from a small sketch ``S A`` (the Sarlos-Clarkson-Woodruff algorithm),
with ``S`` a CountSketch learned on a collection of training matrices
(Indyk, Vakilian, Yuan, NeurIPS 2019). Here the matrices come from one
"scene": a shared low-rank signal on a few rows and noise everywhere, as
frames of one video. We split them into training and test matrices and
measure, for several sketch sizes m, the excess error over the best rank-k
approximation of the test matrices: learned sketch against a random
CountSketch, a Gaussian sketch and scikit-learn's randomized SVD with the
same budget. Then we look at what the learned sketch learned.

The matrices are small (120 x 80) and training is capped at 10 epochs so
that the example runs in seconds.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.extmath import randomized_svd

from skunroll.datasets import make_low_rank_family
from skunroll.metrics import excess_low_rank_error
from skunroll.sketching import LearnedSketchLowRank

warnings.simplefilter("ignore", ConvergenceWarning)  # capped fits may still improve
matrices = make_low_rank_family(n_matrices=60, n_rows=120, n_columns=80, rank=5,
                                n_signal_rows=16, noise=0.3, random_state=0)
train, test = matrices[:48], matrices[48:]
k = 5
print(f"{len(train)} training and {len(test)} test matrices of "
      f"{train.shape[1]} x {train.shape[2]}; target rank k = {k}")

# %%
# Excess error against sketch size
# --------------------------------
#
# ``score`` is minus the mean excess error ``||A - SCW(S, A)||_F - ||A - [A]_k||_F``,
# each matrix scaled to top singular value 10 as in the paper: 0 is optimal.
# The random and Gaussian sketches are drawn, not trained. Randomized SVD
# gets the same budget: a Gaussian sketch of m columns, no power iterations.
sketch_sizes = [5, 10, 15, 20]
kinds = {"random CountSketch": dict(sketch="random"),
         "Gaussian sketch": dict(sketch="gaussian"),
         "learned CountSketch": dict(max_epochs=10)}
errors = {name: [] for name in [*kinds, "randomized SVD"]}
fitted = {}
for m in sketch_sizes:
    for name, params in kinds.items():
        model = LearnedSketchLowRank(k, sketch_size=m, random_state=0, **params).fit(train)
        errors[name].append(-model.score(test))
        fitted[name, m] = model
    excess = []
    for A in test:
        factors = randomized_svd(A, k, n_oversamples=m - k, n_iter=0, random_state=0)
        excess.append(10 / np.linalg.norm(A, 2) * excess_low_rank_error(A, factors, k))
    errors["randomized SVD"].append(np.mean(excess))
    print(f"m={m:2d}: " + ", ".join(f"{name} {err[-1]:.3f}" for name, err in errors.items()))

fig, ax = plt.subplots(figsize=(6, 4))
for (name, err), style in zip(errors.items(), ("s--", "^--", "o-", "d:"), strict=True):
    ax.plot(sketch_sizes, err, style, label=name)
ax.set_yscale("log")
ax.set_xlabel("sketch size m (rows of S)")
ax.set_ylabel("mean excess error on test matrices")
ax.set_title(f"Rank-{k} approximation from an m-row sketch")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# What the learned sketch learned
# -------------------------------
#
# A CountSketch has one nonzero per column: every row of ``A`` is added, with
# a weight, into one of the m rows of ``S A``. A random CountSketch gives every
# row weight +-1, so noise-only rows pollute every bucket. The learned one puts
# its weight on the few rows where the signal lives (those with large energy
# across the training matrices) and nearly none on the others.
learned = fitted["learned CountSketch", 10]
weights = np.abs(np.asarray(learned.values_)).ravel()
energy = (train ** 2).sum(axis=2).mean(axis=0)
signal = energy > 2 * np.median(energy)  # noise alone: 80 columns x 0.3**2 = 7.2 per row
fig, ax = plt.subplots(figsize=(7, 3.2))
ax.stem(np.flatnonzero(~signal), weights[~signal], linefmt="C7-", markerfmt="C7.",
        basefmt=" ", label="noise-only rows")
ax.stem(np.flatnonzero(signal), weights[signal], linefmt="C3-", markerfmt="C3o",
        basefmt=" ", label="signal rows")
ax.axhline(1, color="C0", linestyle="--", label="random CountSketch (|weight| = 1)")
ax.set_xlabel("row of A")
ax.set_ylabel("|weight| in the learned S")
ax.set_title("Learned CountSketch, m = 10")
ax.legend(loc="upper left", fontsize="small")
fig.tight_layout()
plt.show()

# %%
# The factors
# -----------
#
# ``transform`` returns the rank-k factors of each matrix's approximation, and
# ``sketch_`` is the learned ``S`` as a scipy.sparse matrix.
U, s, Vt = learned.transform(test[:1])[0]
print(f"factors of the first test matrix: U {U.shape}, s {s.shape}, Vt {Vt.shape}")
print(f"S is a scipy.sparse {learned.sketch_.shape} matrix with {learned.sketch_.nnz} nonzeros")

# %%
# Other ways to learn the sketch
# ------------------------------
#
# The default finds the positions by a greedy search and then trains the
# values by SGD. The paper's own recipe trains the values only, from a random
# hash; a "mixed" sketch learns half of the rows and keeps the other half
# random (and with it the worst-case guarantee of a random sketch).
m = 10
variants = {"values only, random positions (the paper)": dict(init="random",
                                                              lr_schedule="constant"),
            "mixed: half learned, half random": dict(sketch="mixed-joint", init="random")}
print(f"m={m}: learned (default) {-learned.score(test):.3f}, "
      f"random CountSketch {-fitted['random CountSketch', m].score(test):.3f}")
for name, params in variants.items():
    model = LearnedSketchLowRank(k, sketch_size=m, max_epochs=10, random_state=0,
                                 **params).fit(train)
    print(f"m={m}: {name} {-model.score(test):.3f}")
