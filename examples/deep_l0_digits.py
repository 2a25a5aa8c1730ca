"""
Deep l0 encoders on handwritten digits
======================================

Learns a 64-atom dictionary on scikit-learn's digits, trains the K=2 deep
M-sparse encoder to predict the codes that iterative hard thresholding
converges to, and compares its prediction error with IHT run for 2 and 10
iterations. Then uses the codes as features for a classifier, and trains the
task-driven DeepL0Classifier end to end. About 30 seconds on a CPU.
"""

import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skunroll.metrics import normalized_code_error
from skunroll.sparse_coding import DeepL0Classifier, DeepL0Encoder, m_sparse_iht

warnings.simplefilter("ignore", ConvergenceWarning)
X, y = load_digits(return_X_y=True)
X = X / 16 - (X / 16).mean(axis=0)
X_train, X_test, y_train, y_test = X[:1400], X[1400:], y[:1400], y[1400:]

encoder = DeepL0Encoder(n_components=64, sparsity="M", n_nonzero_coefs=8, max_epochs=40,
                        learning_rate=3e-3, random_state=0).fit(X_train)
optimal = encoder.optimal_codes(X_test)  # IHT run to convergence from an l1 start
deep_error = normalized_code_error(optimal, encoder.transform(X_test))
print(f"deep encoder (K=2): {deep_error:.1f}% error")
for n_iter in (2, 10):
    codes = m_sparse_iht(X_test, encoder.dictionary_, n_nonzero_coefs=8, n_iter=n_iter,
                         step_size=encoder.step_size_)
    print(f"IHT, {n_iter:>2} iterations: {normalized_code_error(optimal, codes):.1f}% error")

pipe = make_pipeline(DeepL0Encoder(n_components=64, sparsity="M", n_nonzero_coefs=8, max_epochs=20,
                                   random_state=0),
                     LogisticRegression(max_iter=1000)).fit(X_train, y_train)
print(f"codes + logistic regression: accuracy {pipe.score(X_test, y_test):.3f}")

clf = DeepL0Classifier(n_components=64, max_epochs=30, learning_rate=3e-3,
                       random_state=0).fit(X_train, y_train)
print(f"DeepL0Classifier (end to end): accuracy {clf.score(X_test, y_test):.3f}")
