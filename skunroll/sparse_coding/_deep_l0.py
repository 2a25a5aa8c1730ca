"""DeepL0Encoder and DeepL0Classifier: unrolled iterative hard thresholding."""

import warnings
from dataclasses import replace
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import ClassifierMixin
from sklearn.decomposition import MiniBatchDictionaryLearning
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .._training import BaseTorchEstimator, to_numpy
from ..metrics import normalized_code_error
from ..utils._device import inference_device
from ..utils._losses import squared_error_loss
from ..utils._mixins import SparseCodesMixin
from ..utils._validation import as_csr_or_array, atomic_fit
from ._iterative import default_step_size, optimal_codes
from ._modules import DeepL0ClassifierNetwork, UnrolledThresholdingNetwork

#: ``alpha="auto"`` and the dead-unit report look at most this many training rows.
_AUTO_ROWS = 2000

#: The network's nonlinearity for each ``sparsity`` setting.
_SHRINKAGE = {"l0": "hard", "M": "top-m", "l1": "soft"}

_SHARED_DOC = """
    n_components : int, default=128
        Number of dictionary atoms p (code length).
    sparsity : {"l0", "M"}, default="l0"
        ``"l0"``: the l0-regularised encoder, thresholds
        ``theta * HELU(u / theta)``; ``"M"``: the M-sparse encoder, max-M
        pooling keeps the ``n_nonzero_coefs`` largest magnitudes per sample.
    alpha : float or "auto", default="auto"
        l0 penalty (the paper's lambda); thresholds start at
        ``sqrt(alpha * step_size)``. ``"auto"`` scales it to the data and the
        dictionary: the threshold at which the first stage ``mu D x`` keeps
        ``max(1, min(n_features, n_components) // 4)`` units per training row
        on average (``alpha_``), so that codes are never all zero whatever
        the scale of ``X`` (with ``partial_fit``: on the first call's rows).
        The paper's recipe is ``alpha=0.5`` on data scaled as its own.
    n_nonzero_coefs : int, default=32
        Nonzeros per code for ``sparsity="M"`` (the paper's M); at most
        ``n_components``.
    n_steps : int, default=2
        Number of unrolled stages (the paper's K, 2 by default).
    dictionary : array-like of shape (n_components, n_features), default=None
        Dictionary D (atoms as rows) to initialise from. If None, one is
        learned with :class:`~sklearn.decomposition.MiniBatchDictionaryLearning`.
    step_size : float, default=None
        IHT step mu; ``1 / ||D||_2^2`` if None (then IHT converges). The
        network starts at ``W = mu D``, ``S = I - mu D D^T``.
    sigma : float, default=0.2
        Initial sigma of HELU_sigma (seed eq. 9), used while training.
    sigma_decay : float, default=10.0
        sigma is divided by this after each epoch.
    dictionary_max_iter : int, default=5
        Epochs of dictionary learning when ``dictionary`` is None.
    {training_parameters}
"""


class _DeepL0Base(BaseTorchEstimator):
    """What the encoder and the classifier share: dictionary, network, sigma schedule."""

    def __init__(self, n_components=128, *, sparsity="l0", alpha="auto", n_nonzero_coefs=32,
                 n_steps=2, dictionary=None, step_size=None, sigma=0.2, sigma_decay=10.0,
                 dictionary_max_iter=5, optimizer="adam", learning_rate=1e-3, batch_size=128,
                 shuffle=True, max_epochs="auto", early_stopping=True, validation_fraction=0.1,
                 n_iter_no_change="auto", tol=0.0, lr_schedule="auto", max_time=None,
                 warm_start=False, device="auto",
                 random_state=None, verbose=0):
        self._set_init_arguments(locals())

    _training_parameter_notes = {
        "random_state": "It seeds dictionary learning (and a classifier's initial head).",
        "lr_schedule": 'Here ``"auto"`` is ``"cosine"``: with ``max_epochs="auto"``, a bounded '
                       'number of steps that ends annealed. The paper trains at a constant rate.',
    }

    def _training_plan(self, n_train):
        plan = super()._training_plan(n_train)
        if self.lr_schedule == "auto":
            plan = replace(plan, lr_schedule="cosine")
        return plan

    _parameter_constraints = {
        **BaseTorchEstimator._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "sparsity": [StrOptions({"l0", "M"})],
        "alpha": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "n_nonzero_coefs": [Interval(Integral, 1, None, closed="left")],
        "n_steps": [Interval(Integral, 1, None, closed="left")],
        "dictionary": ["array-like", None],
        "step_size": [Interval(Real, 0, None, closed="neither"), None],
        "sigma": [Interval(Real, 0, 1, closed="right")],
        "sigma_decay": [Interval(Real, 1, None, closed="left")],
        "dictionary_max_iter": [Interval(Integral, 1, None, closed="left")],
    }

    def _check_sizes(self, n_features):
        if self.sparsity == "M" and self.n_nonzero_coefs > self.n_components:
            raise ValueError(f"n_nonzero_coefs={self.n_nonzero_coefs} must be <= "
                             f"n_components={self.n_components}.")

    def _structure(self):
        return {"n_components": self.n_components, "sparsity": self.sparsity,
                "n_nonzero_coefs": self.n_nonzero_coefs if self.sparsity == "M" else None,
                "n_steps": self.n_steps}

    def _setup_dictionary(self, X, warm):
        """Set ``dictionary_``, ``step_size_`` and ``alpha_`` (kept when ``warm``)."""
        if warm:
            return
        n_features = X.shape[1]
        if self.dictionary is not None:
            D = check_array(self.dictionary, dtype=np.float64)
            if D.shape != (self.n_components, n_features):
                raise ValueError(
                    f"dictionary has shape {D.shape}; expected (n_components, n_features) = "
                    f"({self.n_components}, {n_features})."
                )
        else:
            D = _learn_dictionary(X, self.n_components, self.dictionary_max_iter,
                                  self.random_state)
        self.dictionary_ = D
        self.step_size_ = default_step_size(D) if self.step_size is None else float(self.step_size)
        self.alpha_ = self._resolve_alpha(X)

    def _resolve_alpha(self, X):
        """``alpha``, or with ``"auto"`` the one whose first-stage threshold keeps
        about ``min(n_features, n_components) // 4`` units a row."""
        if self.alpha != "auto":
            return float(self.alpha)
        D, mu, X = self.dictionary_, self.step_size_, as_csr_or_array(X)
        n_active = max(1, min(D.shape) // 4)
        rows = np.unique(np.linspace(0, X.shape[0] - 1, min(X.shape[0], _AUTO_ROWS)).astype(int))
        # Densified a chunk at a time, as in training.
        first_stage = np.vstack([
            np.abs(mu * (X[chunk].toarray() if sp.issparse(X) else X[chunk]) @ D.T)
            for chunk in np.array_split(rows, -(-len(rows) // 256))])
        theta = float(np.quantile(first_stage, 1.0 - n_active / D.shape[0]))
        # All-zero data: any positive threshold; the dead-unit report says why.
        theta = max(theta, np.finfo(np.float32).tiny)
        # IHT's hard threshold is sqrt(alpha mu); ISTA's soft threshold alpha mu.
        return theta**2 / mu if self._shrinkage_kind() == "hard" else theta / mu

    def _shrinkage_kind(self):
        return _SHRINKAGE[self.sparsity]

    def _report_dead_units(self, X):
        """Warn, with the remedy, when the codes of the training rows are (almost) all zero."""
        X = as_csr_or_array(X)
        rows = np.unique(np.linspace(0, X.shape[0] - 1, min(X.shape[0], _AUTO_ROWS)).astype(int))
        codes = self._forward(X[rows], self.n_components, module=self._encoder_from_attributes())
        nonzeros = float((codes != 0).sum(axis=1).mean())
        if nonzeros >= 1.0:
            return
        alive = int((codes != 0).any(axis=0).sum())
        warnings.warn(
            f"{type(self).__name__} learned (almost) nothing: the codes of the training data have "
            f"{nonzeros:.2f} nonzeros per row on average and {alive} of {self.n_components} units "
            f"are ever active (alpha_={self.alpha_:.3g}: every threshold is above the data's "
            "correlations with the atoms). Use alpha='auto', which scales the thresholds to the "
            "data, a smaller alpha, or sparsity='M'.", ConvergenceWarning, stacklevel=4)

    def _encoder_network(self):
        D, mu = self.dictionary_, self.step_size_
        thresholds = None
        if self.sparsity != "M":
            # IHT's hard threshold sqrt(alpha mu); ISTA's soft threshold alpha mu.
            theta = np.sqrt(self.alpha_ * mu) if self.sparsity == "l0" else self.alpha_ * mu
            thresholds = torch.full((D.shape[0],), float(theta))
        return UnrolledThresholdingNetwork(
            torch.as_tensor(mu * D, dtype=torch.float32),
            torch.as_tensor(np.eye(D.shape[0]) - mu * D @ D.T, dtype=torch.float32),
            thresholds, n_steps=self.n_steps, shrinkage=_SHRINKAGE[self.sparsity],
            n_nonzero_coefs=self.n_nonzero_coefs if self.sparsity == "M" else None,
        )

    def _encoder_from_attributes(self):
        # Built from what was fitted, not from parameters changed since.
        structure = self._fitted_structure
        return UnrolledThresholdingNetwork(
            torch.from_numpy(self.input_weights_), torch.from_numpy(self.recurrent_weights_),
            None if self.thresholds_ is None else torch.from_numpy(self.thresholds_),
            n_steps=structure["n_steps"], shrinkage=_SHRINKAGE[structure["sparsity"]],
            n_nonzero_coefs=structure["n_nonzero_coefs"],
        )

    def _encoder_attributes(self, encoder):
        return {
            "input_weights_": to_numpy(encoder.weight),
            "recurrent_weights_": to_numpy(encoder.recurrent),
            "thresholds_": None if encoder.thresholds is None
            else to_numpy(encoder.thresholds.abs()),
        }

    #: Below this sigma HELU_sigma equals HELU in float32 (1 - sigma rounds to 1).
    _SIGMA_FLOOR = 1e-6

    def _on_epoch_start(self, module, epoch):
        # The schedule runs on the global epoch, so a warm start continues it.
        encoder = getattr(module, "encoder", module)
        sigma = self.sigma / self.sigma_decay**epoch
        encoder.sigma = sigma if sigma >= self._SIGMA_FLOOR else None


def _learn_dictionary(X, n_components, max_iter, random_state):
    """MiniBatchDictionaryLearning by ``partial_fit`` on chunks of 256 rows.

    One path for dense and sparse input (a sparse chunk is densified on its
    own), so both learn the same dictionary.
    """
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    learner = MiniBatchDictionaryLearning(n_components=n_components, batch_size=256,
                                          random_state=seed)
    X = as_csr_or_array(X)
    rng = np.random.RandomState(seed)
    for _ in range(max_iter):
        order = rng.permutation(X.shape[0])
        for start in range(0, X.shape[0], 256):
            chunk = X[np.sort(order[start : start + 256])]
            learner.partial_fit(chunk.toarray() if sp.issparse(chunk) else chunk)
    return learner.components_.astype(np.float64)


class DeepL0Encoder(SparseCodesMixin, _DeepL0Base):
    __doc__ = """Deep l0 encoder: unrolled iterative hard thresholding (Wang et al., 2016).

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
    ----------""" + _SHARED_DOC + """
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
        # Hard thresholds make a code jump with any rounding: float64 input is
        # encoded in float64 on the CPU, so a row's code does not depend on the
        # batch it is in.
        exact = X.dtype == np.float64 and inference_device(self.device).type == "cpu"
        codes = self._forward(X, self.input_weights_.shape[0],
                              module=self._encoder_from_attributes(),
                              compute_dtype=torch.float64 if exact else torch.float32)
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


class DeepL0Classifier(ClassifierMixin, _DeepL0Base):
    __doc__ = """Deep l0 encoder with a softmax head, trained end to end (task-driven).

    The encoder of :class:`DeepL0Encoder` (initialised the same way from a
    dictionary learned on ``X`` or given) followed by a linear layer, trained
    with the cross-entropy loss, as the paper's classification experiments.
    ``sparsity="l1"`` gives the network soft thresholds (started at
    ``alpha * step_size``, as ISTA): the paper's "tuned LISTA" baseline
    (Table 4), a LISTA encoder tuned with the softmax loss.

    Parameters
    ----------""" + _SHARED_DOC + """
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
    coef_ : ndarray of shape (n_classes, n_components)
        Softmax layer weights.
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

    _parameter_constraints = {
        **_DeepL0Base._parameter_constraints,
        # "l1": soft thresholds, the paper's "tuned LISTA" baseline of Table 4.
        "sparsity": [StrOptions({"l0", "M", "l1"})],
    }


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
        module = DeepL0ClassifierNetwork(self._encoder_network(), len(self.classes_))
        with torch.no_grad():
            bound = 1.0 / np.sqrt(self.n_components)
            module.head.weight.uniform_(-bound, bound, generator=generator)
            module.head.bias.uniform_(-bound, bound, generator=generator)
        return module

    def _module_from_attributes(self):
        module = DeepL0ClassifierNetwork(self._encoder_from_attributes(), len(self.classes_))
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
        return self._forward(X, len(self.classes_))

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
