"""
Multi-label classification through a compressed label space
=============================================================

Documents (bag-of-words rows from ``make_multilabel_classification``) carry a
few of 100 possible labels. Instead of one classifier per label,
:class:`~skunroll.multilabel.CompressedLabelClassifier` compresses every
label vector to m numbers with a measurement matrix, regresses those m
numbers from the words, and decodes the predicted embedding back to label
scores (Wu et al., ICML 2019, extreme multi-label experiments). We measure
precision@k against m for a learned measurement matrix (l1-AE), a random
Gaussian one and a PCA-like embedding (``TruncatedSVD``), next to
one-vs-rest logistic regression; then we choose m by cross-validation with a
precision@1 scorer, and read labels back as a sparse matrix.

The l1-AE encoders train for 10 epochs so that the example runs in seconds.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp
from sklearn.datasets import make_multilabel_classification
from sklearn.decomposition import TruncatedSVD
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import make_scorer
from sklearn.model_selection import GridSearchCV
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import normalize

from skunroll.metrics import precision_at_k
from skunroll.multilabel import CompressedLabelClassifier
from skunroll.sensing import GaussianMeasurement, L1AEEncoder

warnings.simplefilter("ignore", ConvergenceWarning)  # capped fits may still improve
# One-vs-rest warns about labels that never occur in a training fold.
warnings.filterwarnings("ignore", message="Label not .* is present in all training examples")
X, Y = make_multilabel_classification(n_samples=800, n_features=300, n_classes=100, n_labels=3,
                                      length=400, random_state=0)
X = normalize(X.astype(float))  # word counts -> unit-norm rows
X_train, X_test, Y_train, Y_test = X[:600], X[600:], Y[:600], Y[600:]
print(f"{X_train.shape[0]} training documents, {Y.shape[1]} labels, "
      f"{Y.sum(axis=1).mean():.1f} labels per document")

# %%
# Precision@k against the size of the embedding
# ---------------------------------------------
#
# ``decision_function`` returns a score per label; precision@k is the share
# of the k best-scored labels that are true. The one-vs-rest baseline trains
# 100 classifiers and does not depend on m. A larger embedding keeps more of
# each label vector, so every compressed model improves with m; which one is
# best at a given m depends on the data, hence the comparison.
ks = [1, 3]
ms = [10, 20, 40]
encoders = {
    "learned (l1-AE)": lambda m: L1AEEncoder(n_components=m, max_epochs=10, random_state=0),
    "Gaussian": lambda m: GaussianMeasurement(m, random_state=0),
    "PCA-like (TruncatedSVD)": lambda m: TruncatedSVD(m, random_state=0),
}
precision = {name: {k: [] for k in ks} for name in encoders}
for m in ms:
    for name, make_encoder in encoders.items():
        model = CompressedLabelClassifier(make_encoder(m)).fit(X_train, Y_train)
        scores = model.decision_function(X_test)
        for k in ks:
            precision[name][k].append(precision_at_k(Y_test, scores, k=k))
    print(f"m={m}: " + ", ".join(f"{name} P@1 {p[1][-1]:.3f}" for name, p in precision.items()))
one_vs_rest = OneVsRestClassifier(LogisticRegression(C=10, solver="liblinear"))
scores = one_vs_rest.fit(X_train, Y_train).decision_function(X_test)
baseline = {k: precision_at_k(Y_test, scores, k=k) for k in ks}
print(f"one-vs-rest logistic regression: P@1 {baseline[1]:.3f}")

fig, axes = plt.subplots(1, len(ks), figsize=(9, 3.6), sharey=True)
for ax, k in zip(axes, ks, strict=True):
    for (name, p), style in zip(precision.items(), ("o-", "s--", "^:"), strict=True):
        ax.plot(ms, p[k], style, label=name)
    ax.axhline(baseline[k], color="gray", linestyle="-.", label="one-vs-rest (100 models)")
    ax.set_xlabel("embedding size m (of 100 labels)")
    ax.set_ylabel(f"P@{k} on test documents")
    ax.set_title(f"Precision@{k}")
    ax.set_xticks(ms)
axes[0].legend(fontsize="small")
fig.tight_layout()
plt.show()

# %%
# Choosing m by cross-validation
# ------------------------------
#
# Any scorer built from :func:`~skunroll.metrics.precision_at_k` works in a
# grid search; ``encoder__n_components`` reaches the encoder inside. A
# Gaussian encoder with the fast linear decoder keeps the search quick.
p_at_1 = make_scorer(precision_at_k, response_method="decision_function", k=1)
search = GridSearchCV(
    CompressedLabelClassifier(GaussianMeasurement(random_state=0), decoder="linear"),
    {"encoder__n_components": [10, 20, 40]}, scoring=p_at_1, cv=3,
).fit(X_train, Y_train)
for m, score in zip(search.cv_results_["param_encoder__n_components"],
                    search.cv_results_["mean_test_score"], strict=True):
    print(f"m={m}: cross-validated P@1 {score:.3f}")

# %%
# Sparse labels in, sparse labels out
# -----------------------------------
#
# With a sparse label matrix, predictions come back sparse: the ``top_k``
# labels of each document, as a scipy CSR matrix.
clf = CompressedLabelClassifier(GaussianMeasurement(20, random_state=0), decoder="linear",
                                top_k=3).fit(sp.csr_matrix(X_train), sp.csr_matrix(Y_train))
predicted = clf.predict(X_test[:3])
print(type(predicted).__name__, predicted.shape)
for i in range(3):
    true = np.flatnonzero(Y_test[i]).tolist()
    print(f"document {i}: predicted labels {predicted[i].indices.tolist()}, true labels {true}")
