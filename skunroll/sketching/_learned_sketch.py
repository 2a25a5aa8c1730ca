"""LearnedSketchLowRank: a CountSketch learned for SCW low-rank approximation."""

from dataclasses import replace
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.base import OneToOneFeatureMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import check_is_fitted

from .._training import BaseTorchEstimator, to_numpy
from ..utils._device import torch_generator
from ..utils._mixins import DtypePreservingTransformerMixin
from ._init import (
    INITIALISATIONS,
    TrainingMatrices,
    fixed_sketch,
    numpy_rng,
    random_countsketch,
    sketch_block_rows,
)
from ._input import check_sketch_sizes, matrix_at, validate_matrices
from ._modules import countsketch_network
from ._objectives import OBJECTIVES
from ._scw import countsketch_matrix, scw_factors
from ._statistics import (
    excess_error,
    few_shot_samples,
    rescaling_factors,
    tensor_sketch,
)

_SKETCHES = {"learned", "random", "gaussian", "tensor", "mixed-joint", "mixed-separate"}
_INITS = {"random", "inner-product", "few-shot", "greedy"}
#: learning_rate="auto" per objective (matrices at spectral_norm=10).
_AUTO_LEARNING_RATE = {"scw": 30.0, "few-shot": 10.0}


class LearnedSketchLowRank(OneToOneFeatureMixin, DtypePreservingTransformerMixin,
                           BaseTorchEstimator):
    """Low-rank approximation of recurring matrices with a learned CountSketch.

    A sample is a whole matrix ``A`` (n x d). The Sarlos-Clarkson-Woodruff
    (SCW) algorithm approximates it at rank k from a sketch ``S A`` with
    ``S`` of shape m x n: with ``V`` an orthonormal basis of the row space of
    ``S A``, the output is ``[A V]_k V^T``. ``S`` is a CountSketch (each column
    has one nonzero, at a random hash position, starting at +-1), applied as a
    sparse operation in O(nnz(A)). Training learns the nonzero values by SGD
    on ``||A - [A V]_k V^T||_F`` over a collection of training matrices,
    differentiating through the SCW algorithm (Indyk, Vakilian, Yuan,
    NeurIPS 2019). The learned ``S`` then approximates new matrices of the
    same kind more accurately than a random sketch of the same size.

    Input: a 3-D array (n_matrices, n, d), a list of 2-D arrays or
    scipy.sparse matrices of one shape (n, d), or a 2-D array / sparse matrix
    of row-major flattened matrices (n_matrices, n * d) with
    ``matrix_shape=(n, d)``. Sparse matrices stay sparse in training: a batch
    is passed to torch as its nonzeros, never densified.

    Parameters
    ----------
    n_components : int, default=10
        Target rank k.
    sketch_size : int, default=20
        Number of rows m of the sketch ``S``; at least ``n_components``.
    sketch : {"learned", "random", "gaussian", "tensor", "mixed-joint", "mixed-separate"}, \
            default="learned"
        ``"learned"``: a CountSketch whose values are trained.
        ``"random"``: the classical CountSketch (no training).
        ``"gaussian"``: a dense Gaussian m x n sketch (no training).
        ``"tensor"``: a dense m x n sketch in closed form, no SGD: its rows
        are the top ``sketch_size`` left singular vectors of the training
        matrices side by side, ``[A_1, ..., A_N]`` (each rescaled to
        ``spectral_norm``), found from ``sum_j A_j A_j^T`` (n x n). It
        approximates matrices whose column spaces recur well, but applying
        it costs O(m n d) per matrix where a CountSketch costs O(nnz(A)).
        ``"mixed-joint"``: the first ``sketch_size // 2`` rows are a learned
        CountSketch trained together with a fixed random CountSketch in the
        remaining rows (the paper's Mixed (J)).
        ``"mixed-separate"``: the learned half is trained alone, then a random
        CountSketch half is appended (Mixed (S)). Mixed sketches keep the
        random half's worst-case guarantee.
    init : {"greedy", "random", "inner-product", "few-shot"}, default="greedy"
        Initial positions and values of the learned rows (the trained values
        start there; the :ref:`user guide <sketching>` derives each).
        ``"random"``: a random hash with +-1 values (the paper's recipe, with
        ``lr_schedule="constant"``). ``"greedy"``: positions and values found
        together in seconds: each row of the matrices moves to the bucket that
        most raises ``sum_b lambda_max(G[B_b, B_b])``, ``G = sum_j A_j A_j^T``
        over the rescaled training matrices, each bucket's values the top
        eigenvector of its block (a bound in place of the exact SCW evaluation
        of Li et al.'s greedy search, ICLR 2023); it stops after a sweep
        without a move, 10 sweeps or ``max_time``. ``"few-shot"``: random
        positions, values in closed form from the top-k left singular vectors
        of ``n_shots`` training matrices (Indyk, Wagner, Woodruff, NeurIPS
        2021). ``"inner-product"``: bucket heads drawn by ridge leverage scores
        of the average training matrix, rows sent to the most similar head (Li
        et al., ICLR 2023). Ignored for the sketches that are not trained.
    objective : {"scw", "few-shot"}, default="scw"
        What SGD minimises over the learned values. ``"scw"``: the SCW
        error ``||A - SCW(S, A)||_F`` of each training matrix (the paper),
        one SVD of ``S A`` per matrix and step. ``"few-shot"``: the
        FewShotSGD objective of Indyk, Wagner, Woodruff (NeurIPS 2021) over
        the left singular vectors of ``n_shots`` training matrices, their
        columns past the k-th weighted by ``s_i / s_k``; no SVD in the loop,
        nothing held out (early stopping watches the training loss).
        ``init="inner-product"`` needs ``"scw"``.
    n_shots : int, default=3
        Number of training matrices (drawn with ``random_state``) whose
        singular vectors ``init="few-shot"`` and ``objective="few-shot"``
        use; capped at the number of matrices.
    matrix_shape : tuple of int (n, d) or None, default=None
        How to read 2-D input: each row is a row-major flattened n x d matrix.
        One entry may be -1 (inferred). Not needed for 3-D or list input.
    spectral_norm : float or None, default=10.0
        Every matrix is rescaled to this top singular value for training and
        in :meth:`score` (as the paper, so no matrix dominates the loss).
        ``None`` uses the matrices as given. :meth:`transform` and
        :meth:`approximate` approximate the matrices as given (SCW commutes
        with scaling).
    n_jobs : int, default=None
        Joblib workers for :meth:`transform`, :meth:`score` and the spectral
        norms computed in :meth:`fit` (one matrix per task).
    {training_parameters}

    Attributes
    ----------
    sketch_ : scipy.sparse.csr_matrix of shape (sketch_size, n), or ndarray for the dense sketches
        The sketch S.
    positions_ : ndarray of shape (n_blocks, n) or None
        Row of ``S`` that each input row is sent to, per CountSketch block
        (one block, two for mixed sketches: learned then random). None for
        the dense sketches (``"gaussian"``, ``"tensor"``).
    values_ : ndarray of shape (n_blocks, n) or None
        The matching nonzero values of ``S``.
    matrix_shape_ : tuple (n, d)
        Shape of the matrices seen in ``fit``.
    {training_attributes}

    See Also
    --------
    sklearn.utils.extmath.randomized_svd : Randomized SVD with a Gaussian sketch.
    sklearn.decomposition.TruncatedSVD : Rank-k approximation of one data matrix.

    Notes
    -----
    The loop's attributes read with a matrix as a sample: ``n_features_in_``
    is ``n * d``, the length of a flattened matrix; the losses are mean SCW
    errors ``||A - SCW(S, A)||_F`` (none for the sketches that are not
    trained, whose ``n_iter_`` is 0; for ``"mixed-separate"``, those of the
    learned half alone).

    ``transform`` returns rank-k approximations in the form of its input:
    for a 3-D array or a list, a list of :class:`LowRankFactors` ``(U, s, Vt)``
    named tuples, one per matrix, with ``(U * s) @ Vt`` the approximation; for
    flattened 2-D input, a 2-D array of the flattened approximations (so the
    estimator works as a denoising step in a :class:`~sklearn.pipeline.Pipeline`).

    Training differentiates through the SCW algorithm with autograd, with
    finite gradients at coinciding or zero singular values (the user guide
    says how).

    References
    ----------
    P. Indyk, A. Vakilian, Y. Yuan. "Learning-Based Low-Rank Approximations",
    NeurIPS 2019.

    Y. Li, H. Lin, S. Liu, A. Vakilian, D. P. Woodruff. "Learning the
    Positions in CountSketch", ICLR 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from skunroll.sketching import LearnedSketchLowRank
    >>> rng = np.random.RandomState(0)
    >>> basis = rng.normal(size=(5, 30))
    >>> matrices = rng.normal(size=(40, 60, 5)) @ basis + 0.1 * rng.normal(size=(40, 60, 30))
    >>> sketch = LearnedSketchLowRank(n_components=5, sketch_size=10, max_epochs=2,
    ...                               random_state=0).fit(matrices)
    >>> U, s, Vt = sketch.transform(matrices[:1])[0]
    >>> U.shape, s.shape, Vt.shape
    ((60, 5), (5,), (5, 30))
    >>> sketch.approximate(matrices[0]).shape
    (60, 30)
    """

    _training_parameter_notes = {
        "optimizer": "The paper: plain SGD.",
        "learning_rate": "``\"auto\"``: 30 for ``objective=\"scw\"`` and 10 for "
                         "``\"few-shot\"``. For matrices at ``spectral_norm=10``: the reference "
                         "code scales matrices to top singular value 100 and uses 0.3 x 10 for "
                         "videos and 1 for other data; the gradient grows with the scale, so "
                         "these are 30 and 10 here.",
        "lr_schedule": "``\"auto\"`` is ``\"plateau\"`` (the reference code multiplies the "
                       "rate by 0.3 every 1,000 steps; here after half the patience without "
                       "improvement), so a fit settles before ``max_epochs``. "
                       "``\"constant\"`` is the paper's.",
        "batch_size": "Here a sample is a matrix (the paper: one per step).",
        "device": "Approximation after ``fit`` runs in numpy/scipy on the CPU.",
        "random_state": "It seeds the hash and the signs, the order of the greedy search and "
                        "the choice of the shots.",
        "max_time": "It also bounds the greedy search (``init=\"greedy\"``), separately.",
    }

    _parameter_constraints = {
        **BaseTorchEstimator._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "sketch_size": [Interval(Integral, 1, None, closed="left")],
        "sketch": [StrOptions(_SKETCHES)],
        "init": [StrOptions(_INITS)],
        "objective": [StrOptions({"scw", "few-shot"})],
        "n_shots": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "matrix_shape": [tuple, None],
        "spectral_norm": [Interval(Real, 0, None, closed="neither"), None],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        n_components=10,
        *,
        sketch_size=20,
        sketch="learned",
        init="greedy",
        objective="scw",
        n_shots=3,
        matrix_shape=None,
        spectral_norm=10.0,
        n_jobs=None,
        optimizer="sgd",
        learning_rate="auto",
        batch_size=1,
        shuffle=True,
        max_epochs="auto",
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change="auto",
        tol=0.0,
        lr_schedule="auto",
        max_time=None,
        warm_start=False,
        device="auto",
        random_state=None,
        verbose=0,
        callbacks=None,
    ):
        self._set_init_arguments(locals())

    # A sample is a whole matrix: sparse batches reach the loss as torch COO tensors.
    _sparse_batches = True

    # ------------------------------------------------------------- training
    def _fit(self, X, y=None, *, incremental=None, classes=None):
        warm = self._is_warm(incremental)
        flat, shape, _ = validate_matrices(self, X, self.matrix_shape, reset=not warm)
        check_sketch_sizes(self.n_components, self.sketch_size, self.sketch, shape)
        self.matrix_shape_ = shape

        if self.sketch in ("random", "gaussian"):
            # The same stream as a trained sketch's start: with one seed,
            # sketch="random" is the hash that sketch="learned" starts from.
            rng = numpy_rng(torch_generator(self.random_state)[0])
            return self._store_untrained(fixed_sketch(self.sketch, shape[0], self.sketch_size,
                                                      rng))
        if self.sketch == "tensor":
            sketch = tensor_sketch(flat, shape, self._scales(flat, shape), self.sketch_size)
            return self._store_untrained({"sketch_": sketch,
                                          "positions_": None, "values_": None})
        if self.objective == "few-shot" and self.init == "inner-product":
            raise ValueError(
                "init='inner-product' reads the average training matrix, which "
                "objective='few-shot' does not keep (it trains on singular vectors); use "
                "init='greedy', 'few-shot' or 'random', or objective='scw'."
            )
        # Each matrix's scale factor is side data of its sample, not a target.
        scales = self._scales(flat, shape)
        if self.objective == "few-shot":
            shots = self._shot_indices(flat.shape[0])
            shots, scales = few_shot_samples(flat, shape, shots), scales[shots]
            return self._train(shots, side=scales[:, None], incremental=incremental)
        return self._train(flat, side=scales[:, None], incremental=incremental)

    def _split_for_validation(self, arrays, rng):
        # One to three shots are too few to hold one out: the few-shot
        # objective trains on all of them and stops on its training loss.
        if self.objective == "few-shot":
            return arrays, None
        return super()._split_for_validation(arrays, rng)

    def _shot_indices(self, n_matrices):
        seed = numpy_rng(torch_generator(self.random_state)[0]).randint(2**31 - 1)
        rng = np.random.RandomState(seed)
        return np.sort(rng.choice(n_matrices, size=min(self.n_shots, n_matrices), replace=False))

    def _scales(self, flat, shape):
        return rescaling_factors(flat, shape, self.spectral_norm, self.n_jobs)

    def _structure(self):
        return {
            "n_components": self.n_components,
            "sketch_size": self.sketch_size,
            "sketch": self.sketch,
            "matrix_shape": self.matrix_shape_,
        }

    def _build_module(self, X, generator, y=None, side=None):
        rng = numpy_rng(generator)
        block_rows = sketch_block_rows(self.sketch, self.sketch_size)
        n = self.matrix_shape_[0]
        positions, values = random_countsketch(n, block_rows, rng)
        # Under objective="few-shot" the samples are the shots' U_j diag(s_j) (n x r).
        data = TrainingMatrices(
            X, (n, X.shape[1] // n), side[:, 0], self.matrix_shape_, self.n_components,
            shots=(lambda: range(X.shape[0])) if self.objective == "few-shot"
            else (lambda: self._shot_indices(X.shape[0])),
            max_time=self.max_time)
        positions[0], values[0] = INITIALISATIONS[self.init](data, positions[0], values[0],
                                                             block_rows[0], rng)
        return countsketch_network(positions, values, self._structure())

    def _resolved_learning_rate(self):
        if self.learning_rate == "auto":
            return _AUTO_LEARNING_RATE[self.objective]
        return float(self.learning_rate)

    def _training_plan(self, n_train):
        plan = super()._training_plan(n_train)
        changes = {}
        if self.lr_schedule == "auto":
            changes["lr_schedule"] = "plateau"
        if self.objective == "few-shot":
            # The loss is quartic in the values: one long step makes the next
            # gradient cubically larger. Clipping at a multiple of the recent
            # median keeps SGD on it stable.
            changes["clip_gradients"] = True
        return replace(plan, **changes)

    def _module_from_attributes(self):
        return countsketch_network(self.positions_, self.values_, self._fitted_structure)

    def _batch_loss(self, module, X_batch, y_batch, side_batch):
        return OBJECTIVES[self.objective](module, X_batch, side_batch[:, 0], self.n_components,
                                          self.matrix_shape_)

    def _attributes_from_module(self, module):
        positions = module.positions.cpu().numpy().copy()
        values = to_numpy(module.values())
        return {
            "positions_": positions,
            "values_": values,
            "sketch_": countsketch_matrix(positions, values, self.sketch_size),
        }

    # ------------------------------------------------------------ inference
    def _matrices(self, X):
        check_is_fitted(self)
        flat, shape, collection = validate_matrices(self, X, self.matrix_shape, reset=False)
        return flat, shape, collection

    def _fitted_rank(self):
        # What was fitted, even if set_params changed n_components since.
        return self._fitted_structure["n_components"]

    def _factors(self, flat, shape):
        return Parallel(n_jobs=self.n_jobs)(
            delayed(scw_factors)(matrix_at(flat, i, shape), self.sketch_, self._fitted_rank())
            for i in range(flat.shape[0])
        )

    def transform(self, X):
        """Rank-k approximation of each matrix by SCW with the fitted sketch.

        Parameters
        ----------
        X : 3-D array, list of matrices, or flattened 2-D array
            Matrices of the fitted shape (n, d).

        Returns
        -------
        approximations : list of LowRankFactors, or ndarray of shape (n_matrices, n * d)
            For a 3-D array or list: one ``LowRankFactors(U, s, Vt)`` per
            matrix (``U`` n x k, ``s`` (k,), ``Vt`` k x d), approximation
            ``(U * s) @ Vt``. For flattened 2-D input: the flattened
            approximations, in the input's float dtype.
        """
        flat, shape, collection = self._matrices(X)
        if collection and _get_output_config("transform", self)["dense"] != "default":
            raise ValueError(
                "set_output(transform=...) applies to flattened 2-D input only; for a 3-D array "
                "or a list of matrices, transform returns LowRankFactors, not a table."
            )
        factors = self._factors(flat, shape)
        if collection:
            return factors
        out = np.empty((flat.shape[0], shape[0] * shape[1]), dtype=flat.dtype)
        for row, (U, s, Vt) in enumerate(factors):
            out[row] = ((U * s) @ Vt).ravel()
        return out

    def approximate(self, A):
        """The dense rank-k approximation of one matrix.

        Parameters
        ----------
        A : {array-like, sparse matrix} of shape (n, d)

        Returns
        -------
        approximation : ndarray of shape (n, d)
        """
        if not (sp.issparse(A) or np.ndim(A) == 2):
            raise ValueError("approximate takes one 2-D matrix; got an array with "
                             f"{np.ndim(A)} dimension(s).")
        U, s, Vt = self.transform([A])[0]
        return (U * s) @ Vt

    def score(self, X, y=None):
        """Minus the mean excess error over the optimal rank-k approximation.

        ``-(mean ||A - SCW(S, A)||_F - mean ||A - [A]_k||_F)`` over the
        matrices, each rescaled to ``spectral_norm`` first (the paper's Err,
        in float64). Higher is better; 0 is optimal.

        Parameters
        ----------
        X : 3-D array, list of matrices, or flattened 2-D array
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        flat, shape, _ = self._matrices(X)
        scales = self._scales(flat, shape)
        errors = Parallel(n_jobs=self.n_jobs)(
            delayed(excess_error)(matrix_at(flat, i, shape), self.sketch_, self._fitted_rank())
            for i in range(flat.shape[0])
        )
        return -float(np.mean(np.asarray(errors) * scales))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags
