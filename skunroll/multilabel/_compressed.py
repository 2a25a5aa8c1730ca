"""CompressedLabelClassifier: multi-label learning through a compressed label space."""

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

from ..decoding import NOISY_DECODERS
from ..metrics import precision_at_k
from ..sensing import L1AEEncoder
from ..utils._validation import as_csr_or_array, atomic_fit, seed_unseeded
from ._label_scores import encoder_scores, noisy_scores, selected_labels, sparse_top_scores
from ._noise_selection import held_out_predictions, scan_noise_levels

#: Measurements of the default encoder (at most one per label).
DEFAULT_MEASUREMENTS = 100
#: Best scores kept per row in a sparse ``decision_function`` (at least ``top_k``).
N_SPARSE_SCORES = 100
_ENCODER_DECODERS = ("l1-min-pos", "l1-min", "unrolled")
#: Label scores held at once while predicting: rows are scored in blocks of
#: at most this many (rows x labels) entries, never as one dense n x L matrix.
SCORE_BLOCK_ELEMENTS = 2**24


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
        ``L1AEEncoder(n_components=min(DEFAULT_MEASUREMENTS, n_labels))``
        (100 measurements: fewer lose too much of a many-label matrix to
        compete with a linear model on all labels). Other choices:
        ``GaussianMeasurement`` (random baseline),
        :class:`~sklearn.decomposition.TruncatedSVD` (PCA-like).
    regressor : estimator, default=None
        Predicts the m-dimensional embedding from ``X`` (multi-output
        regression). None means ``Ridge(tol=1e-6)`` (a tighter tolerance than
        its default, so its iterative solver for sparse ``X`` agrees with the
        direct one for dense ``X``).
    decoder : {"auto", "lasso-pos", "lasso", "bpdn-pos", "bpdn", "l1-min-pos", "l1-min", \
"unrolled", "linear"}, default="auto"
        From predicted embeddings to label scores:

        - ``"lasso-pos"``, ``"lasso"``, ``"bpdn-pos"``, ``"bpdn"``: the
          noise-aware decoders (:func:`~skunroll.decoding.lasso_decode`,
          :func:`~skunroll.decoding.bpdn_decode`) with the encoder's
          ``components_`` at the noise level ``noise_level_``; labels they
          leave at zero are ranked after the ones they select, by how much
          each would reduce the residual (``A_j'r / ||A_j||``, OMP's rule);
        - ``"auto"``: ``"lasso-pos"`` for the encoders of
          :mod:`skunroll.sensing` (a predicted embedding is never exact),
          otherwise the encoder's own ``inverse_transform``;
        - ``"l1-min-pos"``, ``"l1-min"``, ``"unrolled"``: that decoder of an
          ``L1AEEncoder``-like encoder (one with a ``decoder`` parameter); an
          embedding that is infeasible for exact l1-min is decoded to its
          nearest fit, with a :class:`~skunroll.exceptions.DecodingWarning`;
        - ``"linear"``: ``A^T z_hat``, a fast correlation score (no LP).

        Rows a decoder fails on are scored by ``"linear"``, with a
        :class:`~skunroll.exceptions.DecodingWarning`.
    noise_level : float >= 0 or "auto", default="auto"
        Noise level (per measurement) of the predicted embeddings, for the
        noise-aware decoders. ``"auto"``: chosen at fit time by precision at
        ``top_k`` (accuracy for 1-D class targets) on held-out rows: the
        regressor's out-of-fold predictions, over folds of
        ``validation_fraction`` of the rows until 1,000 rows are predicted
        (one split when a fold has that many). Their residual's root mean
        square ``s`` gives the candidates ``s * 2**k``, k = 2, 1, ..., -6,
        and 0 (the exact limit: l1-min, or the nearest fit of an infeasible
        embedding), scored from the largest down until two in a row that
        select labels do not improve on the best (levels that select none
        do not count). The linear decoder ``A^T z`` is scored too: when it
        beats every level, or no level selects a label, ``decoder_`` becomes
        ``"linear"``. The best is kept (the larger level on ties), and the
        regressor is fitted again on all the data.
    validation_fraction : float in (0, 1), default=0.2
        Share of the training rows held out at a time (one fold) to choose
        ``noise_level``.
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
    decoder_ : str
        The decoder used: ``"auto"`` resolved, and ``"linear"`` when the
        noise-level selection found that it scores best.
    noise_level_ : float or None
        The noise level of the noise-aware decoders (None for the others).
    noise_level_scores_ : dict
        With ``noise_level="auto"`` and a noise-aware decoder: held-out
        precision at ``top_k`` of every candidate noise level (NaN for the
        levels after the scan stopped) and, under the key ``"linear"``, of
        the linear decoder; otherwise empty.
    classes_ : ndarray
        The labels: ``arange(n_labels)`` for a label matrix, the class values
        for 1-D (binary or multiclass) targets.
    n_labels_ : int
    sparse_output_ : bool
        True when the label matrix given to ``fit`` was sparse: ``predict``
        then returns a sparse 0/1 matrix and ``decision_function`` a sparse
        matrix of the ``max(100, top_k)`` best scores per row, stored as
        ``s + sqrt(s^2 + 1)``, a strictly increasing map to positive values,
        so that the missing entries (implicit zeros) rank below all of them
        (``top_k`` and ``threshold`` are applied to the raw scores first).
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
        "decoder": [StrOptions({"auto", "linear", *_ENCODER_DECODERS, *NOISY_DECODERS})],
        "noise_level": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "top_k": [Interval(Integral, 1, None, closed="left")],
        "threshold": [Real, None],
        "random_state": ["random_state"],
    }

    def __init__(self, encoder=None, regressor=None, *, decoder="auto", noise_level="auto",
                 validation_fraction=0.2, top_k=5, threshold=None, random_state=None):
        self.encoder = encoder
        self.regressor = regressor
        self.decoder = decoder
        self.noise_level = noise_level
        self.validation_fraction = validation_fraction
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
            raise ValueError("CompressedLabelClassifier needs at least 2 classes in y; got 1 "
                             "class.")
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
        encoder = (L1AEEncoder(n_components=min(DEFAULT_MEASUREMENTS, self.n_labels_))
                   if self.encoder is None
                   else clone(self.encoder))
        if self.decoder in ("auto", *_ENCODER_DECODERS) and not hasattr(encoder,
                                                                        "inverse_transform"):
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
            seed_unseeded(part, random_state)
        self.encoder_ = encoder.fit(Y)
        self.decoder_ = self._resolve_decoder(self.encoder_)
        if self.decoder_ in ("linear", *NOISY_DECODERS) and not hasattr(self.encoder_,
                                                                        "components_"):
            raise ValueError(f"decoder={self.decoder_!r} needs the encoder's components_ "
                             f"(m x n_labels); {type(encoder).__name__} has none.")
        embedding = np.asarray(self.encoder_.transform(Y), dtype=np.float64)
        self.noise_level_scores_ = {}
        self.noise_level_ = None
        if self.decoder_ in NOISY_DECODERS:
            if self.noise_level == "auto":
                self.noise_level_ = self._select_noise_level(X, Y, embedding, regressor,
                                                             check_random_state(random_state))
                if self.noise_level_ is None:
                    self.decoder_ = "linear"
            else:
                self.noise_level_ = float(self.noise_level)
        self.regressor_ = clone(regressor).fit(X, embedding)
        return self

    def _resolve_decoder(self, encoder):
        if self.decoder != "auto":
            return self.decoder
        # A measurement encoder (a linear map with a choice of l1 decoders, such as
        # those of skunroll.sensing): a predicted embedding is never exact.
        measures = "decoder" in encoder.get_params() and hasattr(encoder, "components_")
        return "lasso-pos" if measures else "auto"

    def _held_out_score(self, Y, predicted, noise_level):
        """Precision at ``top_k`` of ``predicted`` decoded at ``noise_level``
        (None: the linear decoder), and whether any label was selected."""
        # Classes (one label per row): accuracy, i.e. P@1.
        k = 1 if self._one_hot else min(self.top_k, self.n_labels_)
        total, selected = 0.0, noise_level is None
        # A block of rows at a time, as predict: never a dense (rows x labels) matrix.
        for rows in gen_batches(len(predicted), max(1, SCORE_BLOCK_ELEMENTS // self.n_labels_)):
            if noise_level is None:
                scores = self._linear_scores(predicted[rows])
            else:
                scores, any_selected = self._noisy_scores(predicted[rows], noise_level)
                selected |= any_selected
            total += precision_at_k(Y[rows], scores, k=k) * len(scores)
        return total / len(predicted), selected

    def _select_noise_level(self, X, Y, embedding, regressor, rng):
        """Held-out choice of the noise level (see the ``noise_level`` parameter).

        Returns the chosen level, or None when the linear decoder scores best.
        """
        held, predicted = held_out_predictions(X, embedding, regressor,
                                               self.validation_fraction, rng)
        Y_held = Y[held]
        residual_rms = float(np.sqrt(np.mean((predicted - embedding[held]) ** 2)))
        chosen, self.noise_level_scores_ = scan_noise_levels(
            lambda level: self._held_out_score(Y_held, predicted, level), residual_rms)
        return chosen

    # -------------------------------------------------------------- predict
    def _linear_scores(self, embedding):
        return embedding @ np.asarray(self.encoder_.components_, dtype=np.float64)

    def _noisy_scores(self, embedding, noise_level):
        """Noise-aware decoding scores, and whether any label was selected."""
        return noisy_scores(np.asarray(self.encoder_.components_, dtype=np.float64), embedding,
                            self.decoder_, noise_level,
                            device=getattr(self.encoder_, "device", "cpu"),
                            n_jobs=getattr(self.encoder_, "n_jobs", None))

    def _decode(self, embedding):
        """Dense label scores for a chunk of predicted embeddings."""
        if self.decoder_ == "linear":
            return self._linear_scores(embedding)
        if self.decoder_ in NOISY_DECODERS:
            return self._noisy_scores(embedding, self.noise_level_)[0]
        return encoder_scores(self.encoder_, embedding)

    def _score_chunks(self, X):
        """Dense label scores of ``X``, a block of rows at a time (``SCORE_BLOCK_ELEMENTS`` each).

        Checks and validates at the call; the blocks come from the returned generator.
        """
        check_is_fitted(self)
        X = as_csr_or_array(validate_data(self, X, accept_sparse=("csr", "csc"), reset=False))
        chunk = max(1, min(1024, SCORE_BLOCK_ELEMENTS // self.n_labels_))

        def blocks():
            for rows in gen_batches(X.shape[0], chunk):
                embedding = np.asarray(self.regressor_.predict(X[rows]), dtype=np.float64)
                yield self._decode(embedding.reshape(len(embedding), -1))

        return blocks()

    def _stack(self, blocks, n_columns):
        if self.sparse_output_:
            return sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, n_columns))
        return np.vstack(blocks) if blocks else np.empty((0, n_columns))

    def decision_function(self, X):
        """Label scores of ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray or sparse matrix of shape (n_samples, n_labels)
            Higher is more likely. Sparse when ``fit`` got a sparse label
            matrix: the best ``max(100, top_k)`` scores ``s`` per row, stored as
            ``s + sqrt(s^2 + 1) > 0`` (same order), so that missing entries
            rank below all stored ones. For 1-D
            targets: (n_samples, n_classes), or (n_samples,) for two classes.
        """
        blocks = list(self._score_chunks(X))
        if self._one_hot:
            scores = self._stack(blocks, self.n_labels_)
            return scores[:, 1] - scores[:, 0] if len(self.classes_) == 2 else scores
        if self.sparse_output_:
            keep = max(N_SPARSE_SCORES, self.top_k)
            blocks = [sparse_top_scores(block, keep) for block in blocks]
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
        blocks = [selected_labels(block, self.top_k, self.threshold) for block in chunks]
        if self.sparse_output_:
            blocks = [sp.csr_matrix(block) for block in blocks]
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
