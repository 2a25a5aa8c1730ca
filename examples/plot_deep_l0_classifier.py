"""
Classifying digits with deep l0 encoders
========================================

Sparse codes are features. There are two ways to use a deep l0 encoder
(Wang, Ling, Huang, AAAI 2016) for classification: train
:class:`~skunroll.sparse_coding.DeepL0Encoder` to predict sparse codes and
put a classifier on its output in a ``Pipeline``, or train
:class:`~skunroll.sparse_coding.DeepL0Classifier`, the same network with a
softmax layer on top, end to end on the labels (the paper's task-driven
setting). We compare both on scikit-learn's handwritten digits and look at
the end-to-end classifier's confusion matrix.

Training is capped at 20 epochs so that the example runs in seconds.
"""

import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.pipeline import make_pipeline

from skunroll.sparse_coding import DeepL0Classifier, DeepL0Encoder

warnings.simplefilter("ignore", ConvergenceWarning)  # capped fits may still improve
X, y = load_digits(return_X_y=True)
X = X / 16 - (X / 16).mean(axis=0)
X_train, X_test, y_train, y_test = X[:1400], X[1400:], y[:1400], y[1400:]

# %%
# Codes, then a classifier
# ------------------------
#
# The l0 encoder learns a 64-atom dictionary and predicts l0-regularised codes
# of it (a dozen nonzeros per image here); logistic regression classifies them.
pipe = make_pipeline(DeepL0Encoder(n_components=64, max_epochs=20, random_state=0),
                     LogisticRegression(max_iter=1000)).fit(X_train, y_train)
print(f"codes + logistic regression: test accuracy {pipe.score(X_test, y_test):.3f}")

# %%
# End to end
# ----------
#
# ``DeepL0Classifier`` starts from the same kind of network and trains it
# together with the softmax layer on the cross-entropy loss. Giving it the
# dictionary the encoder learned makes the two start from the same atoms (and
# skips learning them again).
dictionary = pipe[0].dictionary_
clf = DeepL0Classifier(n_components=64, dictionary=dictionary, max_epochs=20, learning_rate=3e-3,
                       random_state=0).fit(X_train, y_train)
print(f"DeepL0Classifier (end to end): test accuracy {clf.score(X_test, y_test):.3f}")

# %%
# Where the end-to-end classifier errs
# ------------------------------------
#
# Rows are the true digits of the held-out images, columns the predicted ones.
fig, ax = plt.subplots(figsize=(5.5, 5))
ConfusionMatrixDisplay.from_predictions(y_test, clf.predict(X_test), ax=ax, colorbar=False)
ax.set_title(f"DeepL0Classifier on {len(y_test)} held-out digits\n"
             f"accuracy {clf.score(X_test, y_test):.3f}")
fig.tight_layout()
plt.show()
