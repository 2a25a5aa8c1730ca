"""What the deep l0 encoder and classifier share: dictionary, thresholds, network, sigma."""

import warnings
from dataclasses import replace
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.decomposition import MiniBatchDictionaryLearning
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import row_norms

from .._training import BaseTorchEstimator, to_numpy
from ..utils._dead_units import report_rows, warn_if_dead
from ..utils._threads import single_blas_thread
from ..utils._validation import as_csr_or_array
from ._iterative import default_step_size
from ._modules import UnrolledThresholdingNetwork

#: The network's nonlinearity for each ``sparsity`` setting.
_SHRINKAGE = {"l0": "hard", "M": "top-m", "l1": "soft"}

#: alpha="auto" keeps about ``min(n_features, n_components) // AUTO_ALPHA_DIVISOR`` units a row.
AUTO_ALPHA_DIVISOR = 4
#: The encoders' dictionary learning penalises codes by this times the median
#: norm of the nonzero rows, so their start does not depend on the data's units
#: (scikit-learn's fixed alpha=1 leaves every code of unit-norm rows at zero).
DICTIONARY_ALPHA_PER_NORM = 0.1


def alpha_doc(divisor):
    """The ``alpha`` parameter's text for an ``"auto"`` that keeps ``// divisor`` units a row."""
    return f"""\
    alpha : float or "auto", default="auto"
        l0 penalty (the paper's lambda); thresholds start at
        ``sqrt(alpha * step_size)``. ``"auto"`` scales it to the data and the
        dictionary: the threshold at which the first stage ``mu D x`` keeps
        ``max(1, min(n_features, n_components) // {divisor})`` units per training row
        on average (``alpha_``), so that codes are never all zero whatever
        the scale of ``X`` (with ``partial_fit``: on the first call's rows).
        The paper's recipe is ``alpha=0.5`` on data scaled as its own.
"""


#: The numpydoc blocks of the parameters the deep l0 estimators (and LISTA) share.
PARAMETER_DOCS = {
    "n_components": """\
    n_components : int, default=128
        Number of dictionary atoms p (code length).
""",
    "sparsity": """\
    sparsity : {"l0", "M"}, default="l0"
        ``"l0"``: the l0-regularised encoder, thresholds
        ``theta * HELU(u / theta)``; ``"M"``: the M-sparse encoder, max-M
        pooling keeps the ``n_nonzero_coefs`` largest magnitudes per sample.
""",
    "alpha": alpha_doc(AUTO_ALPHA_DIVISOR),
    "n_nonzero_coefs": """\
    n_nonzero_coefs : int, default=32
        Nonzeros per code for ``sparsity="M"`` (the paper's M); at most
        ``n_components``.
""",
    "n_steps": """\
    n_steps : int, default=2
        Number of unrolled stages (the paper's K, 2 by default).
""",
    "dictionary": """\
    dictionary : array-like of shape (n_components, n_features), default=None
        Dictionary D (atoms as rows) to initialise from. If None, one is
        learned with :class:`~sklearn.decomposition.MiniBatchDictionaryLearning`.
""",
    "step_size": """\
    step_size : float, default=None
        IHT step mu; ``1 / ||D||_2^2`` if None (then IHT converges). The
        network starts at ``W = mu D``, ``S = I - mu D D^T``.
""",
    "sigma": """\
    sigma : float, default=0.2
        Initial sigma of HELU_sigma (seed eq. 9), used while training.
""",
    "sigma_decay": """\
    sigma_decay : float, default=10.0
        sigma is divided by this after each epoch.
""",
    "dictionary_max_iter": """\
    dictionary_max_iter : int, default=5
        Epochs of dictionary learning when ``dictionary`` is None: a lasso per
        row by coordinate descent, its penalty {alpha_per_norm} times the median
        norm of the nonzero rows.
""".format(alpha_per_norm=DICTIONARY_ALPHA_PER_NORM),
}


class _DeepL0Base(BaseTorchEstimator):
    """What the encoder and the classifier share: dictionary, network, sigma schedule."""

    #: Dictionary learning's lasso penalty per unit of the rows' median norm
    #: (None: scikit-learn's alpha=1).
    _dictionary_alpha_per_norm = DICTIONARY_ALPHA_PER_NORM
    _auto_alpha_divisor = AUTO_ALPHA_DIVISOR

    def __init__(self, n_components=128, *, sparsity="l0", alpha="auto", n_nonzero_coefs=32,
                 n_steps=2, dictionary=None, step_size=None, sigma=0.2, sigma_decay=10.0,
                 dictionary_max_iter=5, optimizer="adam", learning_rate=1e-3, batch_size=128,
                 shuffle=True, max_epochs="auto", early_stopping=True, validation_fraction=0.1,
                 n_iter_no_change="auto", tol=0.0, lr_schedule="auto", max_time=None,
                 warm_start=False, device="auto",
                 random_state=None, verbose=0,
                 callbacks=None):
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
                                  self.random_state,
                                  max_rows=self._dictionary_max_rows(),
                                  alpha=self._dictionary_alpha(X))
        self.dictionary_ = D
        self.step_size_ = default_step_size(D) if self.step_size is None else float(self.step_size)
        self.alpha_ = self._resolve_alpha(X)

    def _dictionary_alpha(self, X):
        """The lasso penalty of dictionary learning on ``X``."""
        if self._dictionary_alpha_per_norm is None:
            return 1.0
        norms = row_norms(as_csr_or_array(X))
        # Empty rows get no code at any penalty: the scale is the other rows'.
        norms = norms[norms > 0]
        return self._dictionary_alpha_per_norm * float(np.median(norms)) if norms.size else 1.0

    def _dictionary_max_rows(self):
        """Rows an epoch of dictionary learning visits at most, or None for every row."""
        return None

    def _resolve_alpha(self, X):
        """``alpha``, or with ``"auto"`` the one whose first-stage threshold keeps
        about ``min(n_features, n_components) // _auto_alpha_divisor`` units a row."""
        if self.alpha != "auto":
            return float(self.alpha)
        D, mu, X = self.dictionary_, self.step_size_, report_rows(X)
        n_active = max(1, min(D.shape) // self._auto_alpha_divisor)
        # Densified a chunk at a time, as in training.
        first_stage = np.vstack([
            np.abs(mu * (X[chunk].toarray() if sp.issparse(X) else X[chunk]) @ D.T)
            for chunk in np.array_split(np.arange(X.shape[0]), -(-X.shape[0] // 256))])
        theta = float(np.quantile(first_stage, 1.0 - n_active / D.shape[0]))
        # All-zero data: any positive threshold; the dead-unit report says why.
        theta = max(theta, np.finfo(np.float32).tiny)
        # IHT's hard threshold is sqrt(alpha mu); ISTA's soft threshold alpha mu.
        return theta**2 / mu if self._shrinkage_kind() == "hard" else theta / mu

    def _shrinkage_kind(self):
        return _SHRINKAGE[self.sparsity]

    def _report_dead_units(self, X):
        """Warn, with the remedy, when the codes of the training rows are (almost) all zero."""
        codes = self._forward(report_rows(X), self.n_components,
                              module=self._encoder_from_attributes())
        warn_if_dead(self, codes,
                     f"alpha_={self.alpha_:.3g}: every threshold is above the data's "
                     "correlations with the atoms",
                     "Use alpha='auto', which scales the thresholds to the data, a smaller "
                     "alpha, or sparsity='M'.")

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
        try:
            sigma = self.sigma / self.sigma_decay**epoch
        except OverflowError:  # hundreds of epochs on a few rows: long annealed
            sigma = 0.0
        encoder.sigma = sigma if sigma >= self._SIGMA_FLOOR else None


def _learn_dictionary(X, n_components, max_iter, random_state, fit_algorithm="cd", *,
                      max_rows=None, alpha=1.0):
    """MiniBatchDictionaryLearning by ``partial_fit`` on chunks of 256 rows.

    One path for dense and sparse input (a sparse chunk is densified on its
    own), so both learn the same dictionary. Each epoch visits the rows in a
    new random order; with ``max_rows``, only the first ``max_rows`` of that
    order (one lasso per row visited, so the time is bounded on many rows).
    Each lasso is solved by coordinate descent unless ``fit_algorithm`` says
    otherwise: the same problem as LARS at a fraction of its time.
    """
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    learner = MiniBatchDictionaryLearning(n_components=n_components, alpha=alpha, batch_size=256,
                                          fit_algorithm=fit_algorithm, random_state=seed)
    X = as_csr_or_array(X)
    rng = np.random.RandomState(seed)
    # One BLAS thread (in the main thread): the work is one small lasso per row,
    # where threads only add their start-up and make the dictionary depend on
    # the core count.
    with warnings.catch_warnings(), single_blas_thread():
        # A mini-batch lasso that stops short of its tolerance only moves the
        # starting dictionary a little; it says nothing about the fit.
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(max_iter):
            order = rng.permutation(X.shape[0])[:max_rows]
            for start in range(0, order.size, 256):
                chunk = X[np.sort(order[start : start + 256])]
                learner.partial_fit(chunk.toarray() if sp.issparse(chunk) else chunk)
    return learner.components_.astype(np.float64)
