"""CompressedLabelClassifier: multi-label learning through a compressed label space."""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.linear_model import Ridge
from sklearn.utils import check_array, check_random_state, gen_batches
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ..exceptions import DecodingWarning
from ..metrics import _dense_top_k, precision_at_k
from ..sensing import L1AEEncoder
from ..utils._validation import as_csr_or_array, atomic_fit

#: Best scores kept per row in a sparse ``decision_function`` (at least ``top_k``).
N_SPARSE_SCORES = 100
_ENCODER_DECODERS = ("l1-min-pos", "l1-min", "unrolled")


def _seed_unseeded(estimator, random_state):
    """Give every ``random_state`` parameter of ``estimator`` that is None a seed.

    Without a ``random_state`` of the meta-estimator (None), nothing changes.
    """
    if random_state is None:
        return
    params = estimator.get_params(deep=True)
    seeds = {name: random_state.randint(np.iinfo(np.int32).max)
             for name in sorted(params)
             if (name == "random_state" or name.endswith("__random_state")) and params[name] is None}
    if seeds:
        estimator.set_params(**seeds)


class CompressedLabelClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Multi-label classification through a compressed label space.

    The label vectors ``y`` (0/1, one column per label, L of them) are
    compressed by an encoder, ``z = A y`` with ``m << L`` measurements; a
    regressor learns to predict ``z`` from the features ``x``; at predict time
    the predicted ``z_hat`` is decoded back to label scores and the best
    labels are returned. With a learned measurement matrix
    (:class:`~skunroll.sensing.L1AEEncoder`) this is the extreme multi-label
    (XML) use of l1-AE in Wu et al. (2019).

    Parameters
    ----------
    encoder : estimator, default=None
        Fitted on the label matrix; needs ``fit``, ``transform`` and, unless
        ``decoder="linear"``, ``inverse_transform``; ``decoder="linear"``
        needs ``components_`` (m x L) instead. None means
        ``L1AEEncoder(n_components=min(20, n_labels))``. Other choices: ``GaussianMeasurement`` (random
        baseline), :class:`~sklearn.decomposition.TruncatedSVD` (PCA-like).
    regressor : estimator, default=None
        Predicts the m-dimensional embedding from ``X`` (multi-output
        regression). None means ``Ridge(tol=1e-6)`` (a tighter tolerance than
        its default, so its iterative solver for sparse ``X`` agrees with the
        direct one for dense ``X``).
    decoder : {"auto", "l1-min-pos", "l1-min", "unrolled", "linear"}, default="auto"
        From predicted embeddings to label scores:

        - ``"auto"``: the encoder's own ``inverse_transform`` (for
          ``L1AEEncoder``, its ``decoder`` parameter: exact l1-min-pos by
          default);
        - ``"l1-min-pos"``, ``"l1-min"``, ``"unrolled"``: that decoder of an
          ``L1AEEncoder``-like encoder (one with a ``decoder`` parameter);
        - ``"linear"``: ``A^T z_hat``, a fast correlation score (no LP).

        Rows an LP cannot decode (the predicted embedding is not reachable
        by a nonnegative label vector, say) are scored by ``"linear"``, with
        a :class:`~skunroll.exceptions.DecodingWarning`.
    top_k : int, default=5
        ``predict`` returns the ``top_k`` best-scored labels of each sample
        (ties to the lower label index).
    threshold : float or None, default=None
        If set, ``predict`` returns the labels scored at least ``threshold``
        instead of the top ``top_k``.
    random_state : int, RandomState instance or None, default=None
        Seeds the encoder and the regressor wherever their own
        ``random_state`` (nested ones included) is None, as scikit-learn's
        ensembles do; seeds they were given are kept. With an int, two fits
        on the same data are identical.

    Attributes
    ----------
    encoder_ : estimator
        The fitted encoder.
    regressor_ : estimator
        The fitted regressor.
    classes_ : ndarray
        The labels: ``arange(n_labels)`` for a label matrix, the class values
        for 1-D (binary or multiclass) targets.
    n_labels_ : int
    sparse_output_ : bool
        True when the label matrix given to ``fit`` was sparse: ``predict``
        then returns a sparse 0/1 matrix and ``decision_function`` a sparse
        matrix of the ``max(100, top_k)`` best nonzero scores per row
        (``top_k`` and ``threshold`` are applied to the full scores first).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)

    Notes
    -----
    1-D targets (binary or multiclass) are one-hot encoded; ``predict`` then
    returns class values (the best-scored class), and ``decision_function``
    one score per class (for binary targets, the difference of the two).

    References
    ----------
    S. Wu, A. G. Dimakis, S. Sanghavi, F. X. Yu, D. Holtmann-Rice, D. Storcheus,
    A. Rostamizadeh, S. Kumar. "Learning a Compressed Sensing Measurement
    Matrix via Gradient Unrolling", ICML 2019.

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from sklearn.preprocessing import normalize
    >>> from skunroll.metrics import precision_at_k
    >>> from skunroll.multilabel import CompressedLabelClassifier
    >>> from skunroll.sensing import L1AEEncoder
    >>> X, Y = make_multilabel_classification(600, n_features=100, n_classes=50, n_labels=3,
    ...                                       length=300, random_state=0)
    >>> X = normalize(X.astype(float))  # word counts -> unit rows
    >>> clf = CompressedLabelClassifier(L1AEEncoder(n_components=15, max_epochs=5,
    ...                                             random_state=0), top_k=3)
    >>> clf.fit(X[:500], Y[:500]).predict(X[500:]).shape
    (100, 50)
    >>> bool(precision_at_k(Y[500:], clf.decision_function(X[500:]), k=1) > 0.25)  # chance: 0.06
    True
    """

    _parameter_constraints = {
        "encoder": [HasMethods(["fit", "transform"]), None],
        "regressor": [HasMethods(["fit", "predict"]), None],
        "decoder": [StrOptions({"auto", "linear", *_ENCODER_DECODERS})],
        "top_k": [Interval(Integral, 1, None, closed="left")],
        "threshold": [Real, None],
        "random_state": ["random_state"],
    }

    def __init__(self, encoder=None, regressor=None, *, decoder="auto", top_k=5, threshold=None,
                 random_state=None):
        self.encoder = encoder
        self.regressor = regressor
        self.decoder = decoder
        self.top_k = top_k
        self.threshold = threshold
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def _label_matrix(self, y):
        """0/1 label matrix (CSR float64) from a label matrix or 1-D targets."""
        Y = check_array(y, accept_sparse="csr", ensure_2d=False, dtype=None, input_name="y")
        if Y.ndim == 2 and Y.shape[1] != 1:
            values = Y.data if sp.issparse(Y) else Y
            if not np.all(np.isin(values, (0, 1))):
                raise ValueError("y must be a 0/1 label indicator matrix (or 1-D class labels).")
            self.sparse_output_ = sp.issparse(Y)
            self._one_hot = False
            self.classes_ = np.arange(Y.shape[1])
            # Dense stays dense (some encoders take no sparse input).
            return sp.csr_matrix(Y, dtype=np.float64) if sp.issparse(Y) else Y.astype(np.float64)
        y = column_or_1d(Y.toarray() if sp.issparse(Y) else Y, warn=True)
        check_classification_targets(y)
        if np.unique(y).size < 2:
            raise ValueError("CompressedLabelClassifier needs at least 2 classes in y; got 1 class.")
        self.sparse_output_ = False
        self._one_hot = True
        self.classes_, codes = np.unique(y, return_inverse=True)
        return sp.csr_matrix((np.ones(len(codes)), (np.arange(len(codes)), codes)),
                             shape=(len(codes), len(self.classes_)))

    @atomic_fit
    def fit(self, X, y):
        """Fit the encoder on the labels, then the regressor on the embeddings.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : {array-like, sparse matrix} of shape (n_samples, n_labels), or (n_samples,)
            0/1 label indicator matrix (sparse for many labels), or 1-D
            class labels.

        Returns
        -------
        self : object
        """
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y "
                             "is None.")
        X = validate_data(self, X, accept_sparse=("csr", "csc"), reset=True)
        Y = self._label_matrix(y)
        check_consistent_length(X, Y)
        self.n_labels_ = Y.shape[1]
        encoder = (L1AEEncoder(n_components=min(20, self.n_labels_)) if self.encoder is None
                   else clone(self.encoder))
        if self.decoder != "linear" and not hasattr(encoder, "inverse_transform"):
            raise ValueError(f"decoder={self.decoder!r} needs an encoder with inverse_transform; "
                             f"{type(encoder).__name__} has none. Use decoder='linear'.")
        if self.decoder in _ENCODER_DECODERS:
            if "decoder" not in encoder.get_params():
                raise ValueError(f"decoder={self.decoder!r} needs an encoder with a 'decoder' "
                                 f"parameter (such as L1AEEncoder); {type(encoder).__name__} has "
                                 "none. Use decoder='auto' or 'linear'.")
            # The encoder's own fit then checks that it offers this decoder.
            encoder.set_params(decoder=self.decoder)
        regressor = clone(Ridge(tol=1e-6) if self.regressor is None else self.regressor)
        random_state = (None if self.random_state is None
                        else check_random_state(self.random_state))
        for part in (encoder, regressor):
            _seed_unseeded(part, random_state)
        self.encoder_ = encoder.fit(Y)
        if self.decoder == "linear" and not hasattr(self.encoder_, "components_"):
            raise ValueError(f"decoder='linear' needs the encoder's components_ (m x n_labels); "
                             f"{type(encoder).__name__} has none.")
        embedding = np.asarray(self.encoder_.transform(Y), dtype=np.float64)
        self.regressor_ = regressor.fit(X, embedding)
        return self

    # -------------------------------------------------------------- predict
    def _linear_scores(self, embedding):
        return embedding @ np.asarray(self.encoder_.components_, dtype=np.float64)

    def _decode(self, embedding):
        """Dense label scores for a chunk of predicted embeddings."""
        if self.decoder == "linear":
            return self._linear_scores(embedding)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DecodingWarning)
            scores = self.encoder_.inverse_transform(embedding)
        scores = np.array(scores.toarray() if sp.issparse(scores) else scores, dtype=np.float64)
        failed = ~np.all(np.isfinite(scores), axis=1)
        if failed.any():
            if not hasattr(self.encoder_, "components_"):
                raise ValueError(f"{failed.sum()} rows could not be decoded and the encoder has "
                                 "no components_ for the linear fallback.")
            warnings.warn(
                f"{failed.sum()} of {len(scores)} predicted embeddings could not be decoded "
                "(infeasible LP); they are scored by the linear decoder A^T z instead.",
                DecodingWarning,
            )
            scores[failed] = self._linear_scores(embedding[failed])
        return scores

    def _score_chunks(self, X):
        """Dense label scores of ``X``, a block of rows at a time (about 16M scores each).

        Checks and validates at the call; the blocks come from the returned generator.
        """
        check_is_fitted(self)
        X = as_csr_or_array(validate_data(self, X, accept_sparse=("csr", "csc"), reset=False))
        chunk = max(1, min(1024, 2**24 // self.n_labels_))

        def blocks():
            for rows in gen_batches(X.shape[0], chunk):
                embedding = np.asarray(self.regressor_.predict(X[rows]), dtype=np.float64)
                yield self._decode(embedding.reshape(len(embedding), -1))

        return blocks()

    def _stack(self, blocks, n_columns):
        if self.sparse_output_:
            return sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, n_columns))
        return np.vstack(blocks) if blocks else np.empty((0, n_columns))

    def _sparse_scores(self, scores):
        """CSR with the best ``max(100, top_k)`` nonzero scores of each row."""
        keep = min(max(N_SPARSE_SCORES, self.top_k), scores.shape[1])
        top = _dense_top_k(scores, keep)
        rows = np.repeat(np.arange(len(scores)), keep)
        kept = sp.csr_matrix((np.take_along_axis(scores, top, axis=1).ravel(),
                              (rows, top.ravel())), shape=scores.shape)
        kept.eliminate_zeros()
        return kept

    def _selected_labels(self, scores):
        """0/1 block: the ``top_k`` best labels per row, or those at or above ``threshold``."""
        if self.threshold is not None:
            selected = scores >= self.threshold
        else:
            top = _dense_top_k(scores, min(self.top_k, scores.shape[1]))
            selected = np.zeros(scores.shape, dtype=bool)
            np.put_along_axis(selected, top, True, axis=1)
        selected = selected.astype(np.int64)
        return sp.csr_matrix(selected) if self.sparse_output_ else selected

    def decision_function(self, X):
        """Label scores of ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray or sparse matrix of shape (n_samples, n_labels)
            Higher is more likely. Sparse when ``fit`` got a sparse label
            matrix: the best ``max(100, top_k)`` nonzero scores per row (missing
            entries rank below all stored ones). For 1-D
            targets: (n_samples, n_classes), or (n_samples,) for two classes.
        """
        blocks = list(self._score_chunks(X))
        if self._one_hot:
            scores = self._stack(blocks, self.n_labels_)
            return scores[:, 1] - scores[:, 0] if len(self.classes_) == 2 else scores
        if self.sparse_output_:
            blocks = [self._sparse_scores(block) for block in blocks]
        return self._stack(blocks, self.n_labels_)

    def predict(self, X):
        """The ``top_k`` best-scored labels (or those above ``threshold``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        Y : ndarray or sparse matrix of shape (n_samples, n_labels), or (n_samples,)
            0/1 label matrix, sparse when ``fit`` got a sparse label matrix;
            class values for 1-D targets.
        """
        chunks = self._score_chunks(X)
        if self._one_hot:
            best = [block.argmax(axis=1) for block in chunks]
            return self.classes_[np.concatenate(best) if best else np.empty(0, dtype=int)]
        blocks = [self._selected_labels(block) for block in chunks]
        return self._stack(blocks, self.n_labels_)

    def score(self, X, y, sample_weight=None):
        """Precision@``top_k`` for a label matrix; accuracy for 1-D targets.

        Subset accuracy (scikit-learn's default for multi-label classifiers)
        is almost always 0 with many labels, so a label matrix is scored by
        :func:`~skunroll.metrics.precision_at_k` with ``k = top_k`` on the
        scores of :meth:`decision_function`, as the XML literature does.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : {array-like, sparse matrix} of shape (n_samples, n_labels), or (n_samples,)
        sample_weight : None
            Not supported for label matrices (must be None there).

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        if self._one_hot:
            return super().score(X, y, sample_weight=sample_weight)
        if sample_weight is not None:
            raise ValueError("sample_weight is not supported when scoring a label matrix.")
        return precision_at_k(y, self.decision_function(X), k=self.top_k)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_label = True
        tags.target_tags.required = True
        return tags
