"""DeepL0Encoder and DeepL0Classifier: unrolled iterative hard thresholding."""

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .._training import to_numpy
from ..metrics import normalized_code_error
from ..utils._docstrings import fill_doc, parameter_blocks
from ..utils._losses import squared_error_loss
from ..utils._mixins import SparseCodesMixin
from ..utils._validation import as_csr_or_array, atomic_fit
from ._deep_l0_base import PARAMETER_DOCS, _DeepL0Base, alpha_doc
from ._iterative import optimal_codes
from ._modules import DeepL0ClassifierNetwork


@fill_doc(deep_l0_parameters=parameter_blocks(PARAMETER_DOCS, *PARAMETER_DOCS))
class DeepL0Encoder(SparseCodesMixin, _DeepL0Base):
    """Deep l0 encoder: unrolled iterative hard thresholding (Wang et al., 2016).

    A feed-forward network of ``n_steps`` stages ``a <- h(W x + S a)`` with
    ``W``, ``S`` (and thresholds ``theta``) shared across stages and learned,
    initialised from a dictionary ``D`` as ``W = mu D``, ``S = I - mu D D^T``,
    ``theta = sqrt(alpha mu)``. ``fit(X)`` is the paper's regression setting:
    learn ``D`` (unless given), compute the optimal codes of ``X`` (l1 start,
    then IHT to convergence, :func:`~skunroll.sparse_coding.optimal_codes`)
    and train the network to predict them (squared error). During training
    the l0 form uses the continuous HELU_sigma, sigma shrinking tenfold per
    epoch; :meth:`transform` uses the exact HELU.

    Deliberate choices where the paper is silent: Adam with learning rate
    1e-3, and the IHT step ``mu = 1 / ||D||_2^2`` (the paper's step 1 only
    converges when ``||D||_2 <= 1``).

    Parameters
    ----------
    {deep_l0_parameters}
    {training_parameters}

    Attributes
    ----------
    dictionary_ : ndarray of shape (n_components, n_features)
        The dictionary D the network was initialised from.
    step_size_ : float
        The IHT step mu.
    alpha_ : float
        The penalty used: ``alpha``, or the one ``"auto"`` chose.
    input_weights_ : ndarray of shape (n_components, n_features)
        Learned W.
    recurrent_weights_ : ndarray of shape (n_components, n_components)
        Learned S.
    thresholds_ : ndarray of shape (n_components,) or None
        Learned theta (None for ``sparsity="M"``).
    {training_attributes}

    See Also
    --------
    DeepL0Classifier : The same encoder trained end to end for classification.
    skunroll.sparse_coding.iht : The iterative algorithm it unrolls.

    References
    ----------
    Z. Wang, Q. Ling, T. S. Huang. "Learning Deep l0 Encoders", AAAI 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skunroll.sparse_coding import DeepL0Encoder
    >>> X = load_digits().data[:300] / 16
    >>> encoder = DeepL0Encoder(n_components=32, sparsity="M", n_nonzero_coefs=5, max_epochs=3,
    ...                         random_state=0).fit(X)
    >>> codes = encoder.transform(X[:4])
    >>> codes.shape, (codes != 0).sum(axis=1).tolist()
    ((4, 32), [5, 5, 5, 5])
    """


    _atoms_attribute = "dictionary_"

    def _fit(self, X, y=None, *, incremental=None, classes=None):
        warm = self._is_warm(incremental)
        X = self._validate_X(X, reset=not warm)
        self._check_sizes(X.shape[1])
        self._setup_dictionary(X, warm)
        # The codes this fit learns to predict; optimal_codes and score keep
        # using them after set_params changes sparsity, alpha or n_nonzero_coefs.
        self._code_settings = {"sparsity": self.sparsity, "alpha": self.alpha_,
                               "n_nonzero_coefs": self.n_nonzero_coefs}
        targets = self._optimal_codes(X)
        self._train(as_csr_or_array(X), targets, incremental=incremental)
        if self.sparsity != "M":
            self._report_dead_units(X)
        return self

    def _optimal_codes(self, X):
        return optimal_codes(X, self.dictionary_, step_size=self.step_size_,
                             **self._code_settings)

    def optimal_codes(self, X):
        """The codes the encoder was trained to predict, for new data ``X``.

        :func:`~skunroll.sparse_coding.optimal_codes` with this estimator's
        dictionary, step size and the sparsity settings (``sparsity``,
        ``alpha``, ``n_nonzero_coefs``) it was fitted with: the ground truth of the paper's
        prediction-error tables.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        return self._optimal_codes(self._validate_X(X, reset=False))

    def _build_module(self, X, generator, y=None, side=None):
        return self._encoder_network()

    def _module_from_attributes(self):
        return self._encoder_from_attributes()

    def _batch_loss(self, module, X_batch, y_batch, side_batch):
        return squared_error_loss(module(X_batch), y_batch)

    def _attributes_from_module(self, module):
        return self._encoder_attributes(module)

    def transform(self, X):
        """Sparse codes of ``X`` (exact HELU or max-M pooling).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
            In the dtype of ``X``.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        codes = self._forward(X, self.input_weights_.shape[0],
                              module=self._encoder_from_attributes(),
                              compute_dtype="input")
        return codes.astype(X.dtype, copy=False)

    def score(self, X, y=None):
        """Minus the normalised code error (%) against the optimal codes of ``X``.

        The optimal codes are computed with :func:`optimal_codes` for this
        estimator's dictionary and the sparsity settings it was fitted with
        (the paper's metric).
        Scores of estimators with different ``n_nonzero_coefs`` or ``alpha`` compare against
        different targets; to choose those, score a downstream task instead
        (a Pipeline with a classifier, say).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        predicted = self._forward(X, self.input_weights_.shape[0],
                                  module=self._encoder_from_attributes())
        return -normalized_code_error(self._optimal_codes(X), predicted)


#: The classifier's alpha="auto" starts sparser: sparser codes classify better (the
#: paper's best M is 10-20 of 128 atoms).
CLASSIFIER_ALPHA_DIVISOR = 8
#: The classifier's max_epochs="auto" budget: a softmax head on sparse codes is
#: trained (cosine-annealed, on every row) in fewer steps than a reconstruction.
CLASSIFIER_AUTO_STEPS = 1000
#: The classifier's dictionary start visits at most this many rows an atom (and
#: at least CLASSIFIER_DICTIONARY_MIN_ROWS rows) an epoch: one lasso per row
#: visited, so its time stays bounded on many rows; fine-tuning does the rest.
CLASSIFIER_DICTIONARY_ROWS_PER_ATOM = 8
CLASSIFIER_DICTIONARY_MIN_ROWS = 2048

#: The classifier's own parameter texts: the sign split and a shorter dictionary fit.
_CLASSIFIER_DOCS = {
    **PARAMETER_DOCS,
    "alpha": alpha_doc(CLASSIFIER_ALPHA_DIVISOR),
    "dictionary_max_iter": """\
    dictionary_max_iter : int, default=1
        Epochs of dictionary learning when ``dictionary`` is None, by
        coordinate descent at scikit-learn's penalty ``alpha=1``, each over at most
        ``max({min_rows}, {per_atom} * n_components)`` rows drawn at random (the
        network fine-tunes the dictionary end to end, so a quick start is
        enough).
""".format(min_rows=CLASSIFIER_DICTIONARY_MIN_ROWS, per_atom=CLASSIFIER_DICTIONARY_ROWS_PER_ATOM),
    "split_signs": """\
    split_signs : bool, default=True
        Give the softmax head the positive and negative parts of the codes,
        ``max(z, 0)`` and ``max(-z, 0)``, as separate features (Coates and
        Ng's sign split; ``coef_`` then has ``2 * n_components`` columns).
        False feeds it the codes themselves, as the paper.
""",
}


@fill_doc(deep_l0_parameters=parameter_blocks(_CLASSIFIER_DOCS, *_CLASSIFIER_DOCS))
class DeepL0Classifier(ClassifierMixin, _DeepL0Base):
    """Deep l0 encoder with a softmax head, trained end to end (task-driven).

    The encoder of :class:`DeepL0Encoder` (initialised the same way from a
    dictionary learned on ``X`` or given) followed by a linear layer, trained
    with the cross-entropy loss, as the paper's classification experiments.
    ``sparsity="l1"`` gives the network soft thresholds (started at
    ``alpha * step_size``, as ISTA): the paper's "tuned LISTA" baseline
    (Table 4), a LISTA encoder tuned with the softmax loss.

    Parameters
    ----------
    {deep_l0_parameters}
    {training_parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    dictionary_ : ndarray of shape (n_components, n_features)
    step_size_ : float
    alpha_ : float
        The penalty used: ``alpha``, or the one ``"auto"`` chose.
    input_weights_ : ndarray of shape (n_components, n_features)
    recurrent_weights_ : ndarray of shape (n_components, n_components)
    thresholds_ : ndarray of shape (n_components,) or None
    coef_ : ndarray of shape (n_classes, 2 * n_components) or (n_classes, n_components)
        Softmax layer weights: of the codes' positive parts, then of their
        negative parts (``split_signs=True``), or of the codes.
    intercept_ : ndarray of shape (n_classes,)
    {training_attributes}

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skunroll.sparse_coding import DeepL0Classifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = DeepL0Classifier(n_components=64, max_epochs=5, random_state=0).fit(X / 16, y)
    >>> clf.predict(X[:3] / 16).shape
    (3,)
    """

    _target_dtype = torch.long
    # Training tunes the dictionary end to end: a start scaled to the rows'
    # norm was no better than scikit-learn's alpha=1.
    _dictionary_alpha_per_norm = None
    _auto_alpha_divisor = CLASSIFIER_ALPHA_DIVISOR
    _auto_steps = CLASSIFIER_AUTO_STEPS
    _training_parameter_notes = {
        **_DeepL0Base._training_parameter_notes,
        "early_stopping": "The classifier trains on every row by default, as "
                          ":class:`~sklearn.neural_network.MLPClassifier`: the held-out "
                          "cross-entropy turns up (overconfident probabilities) while the "
                          "held-out accuracy still improves, so stopping on it ends early.",
    }

    _parameter_constraints = {
        **_DeepL0Base._parameter_constraints,
        # "l1": soft thresholds, the paper's "tuned LISTA" baseline of Table 4.
        "sparsity": [StrOptions({"l0", "M", "l1"})],
        "split_signs": ["boolean"],
    }

    def __init__(self, n_components=128, *, sparsity="l0", alpha="auto", n_nonzero_coefs=32,
                 n_steps=2, dictionary=None, step_size=None, sigma=0.2, sigma_decay=10.0,
                 dictionary_max_iter=1, split_signs=True, optimizer="adam", learning_rate=1e-3,
                 batch_size=128, shuffle=True, max_epochs="auto", early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change="auto", tol=0.0, lr_schedule="auto",
                 max_time=None, warm_start=False, device="auto", random_state=None, verbose=0,
                 callbacks=None):
        self._set_init_arguments(locals())

    def _structure(self):
        return {**super()._structure(), "split_signs": self.split_signs}

    def _dictionary_max_rows(self):
        return max(CLASSIFIER_DICTIONARY_MIN_ROWS,
                   CLASSIFIER_DICTIONARY_ROWS_PER_ATOM * self.n_components)

    def _fit(self, X, y=None, *, incremental=None, classes=None):
        warm = self._is_warm(incremental)
        X, y = validate_data(self, X, y, accept_sparse=("csr", "csc", "coo"),
                             dtype=(np.float64, np.float32), reset=not warm)
        check_classification_targets(y)
        if incremental:
            # A chunk may lack some labels: the classes come from the first call.
            classes = self.classes_ if incremental == "continue" else classes
            encoder = LabelEncoder().fit(classes)
            unseen = np.setdiff1d(y, encoder.classes_)
            if unseen.size:
                raise ValueError(f"y has labels {unseen.tolist()} that are not in classes "
                                 f"{encoder.classes_.tolist()} given to the first partial_fit.")
        else:
            encoder = LabelEncoder().fit(y)
        if warm and not np.array_equal(encoder.classes_, self.classes_):
            raise ValueError("warm_start=True needs the same classes as the first fit.")
        self.classes_ = encoder.classes_
        self._check_sizes(X.shape[1])
        self._setup_dictionary(X, warm)
        self._train(as_csr_or_array(X), encoder.transform(y), incremental=incremental)
        if self.sparsity != "M":
            self._report_dead_units(X)
        return self

    def fit(self, X, y):
        """Learn the dictionary (unless given) and train encoder and head end to end.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : object
        """
        return super().fit(X, y)

    @atomic_fit
    def partial_fit(self, X, y, classes=None):
        """One pass over a chunk, continuing from the previous call (see the base class).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,) or None
            Every label of the stream. Required on the first call on an
            unfitted estimator (a chunk may lack some labels); later calls
            may omit it.

        Returns
        -------
        self : object
        """
        if not hasattr(self, "classes_") and classes is None:
            raise ValueError("classes must be passed to the first call of partial_fit "
                             "(a chunk may not contain every label).")
        return self._partial_fit(X, y, classes=None if classes is None else np.unique(classes))

    def _build_module(self, X, generator, y=None, side=None):
        module = DeepL0ClassifierNetwork(self._encoder_network(), len(self.classes_),
                                         split_signs=self.split_signs)
        with torch.no_grad():
            bound = 1.0 / np.sqrt(module.head.in_features)
            module.head.weight.uniform_(-bound, bound, generator=generator)
            module.head.bias.uniform_(-bound, bound, generator=generator)
        return module

    def _module_from_attributes(self):
        module = DeepL0ClassifierNetwork(self._encoder_from_attributes(), len(self.classes_),
                                         # Fits saved by skunroll 0.1.0 have no sign split.
                                         split_signs=self._fitted_structure.get("split_signs",
                                                                                False))
        with torch.no_grad():
            module.head.weight.copy_(torch.from_numpy(self.coef_))
            module.head.bias.copy_(torch.from_numpy(self.intercept_))
        return module

    def _batch_loss(self, module, X_batch, y_batch, side_batch):
        return torch.nn.functional.cross_entropy(module(X_batch), y_batch)

    def _attributes_from_module(self, module):
        return {**self._encoder_attributes(module.encoder),
                "coef_": to_numpy(module.head.weight), "intercept_": to_numpy(module.head.bias)}

    def _logits(self, X):
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return self._forward(X, len(self.classes_), compute_dtype="input")

    def decision_function(self, X):
        """Class scores (logits); for two classes, the score of the second class.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
        """
        logits = self._logits(X)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def predict_proba(self, X):
        """Softmax class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        logits = self._logits(X)
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of :meth:`predict` on ``X`` against ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return super().score(X, y, sample_weight=sample_weight)

    def predict(self, X):
        """Most probable class.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        logits = self._logits(X)
        return self.classes_[np.argmax(logits, axis=1)]
