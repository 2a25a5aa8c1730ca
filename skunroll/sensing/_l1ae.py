"""L1AEEncoder: a compressed-sensing measurement matrix learned by unrolling l1-min."""

from dataclasses import replace
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from .._training import BaseTorchEstimator, to_numpy
from ..decoding import DECODERS
from ..utils._docstrings import fill_doc
from ..utils._losses import squared_error_loss
from ..utils._validation import as_csr_or_array, check_n_components
from ._base import DECODER_PIECES, MeasurementMixin
from ._modules import L1AENetwork

#: What lr_schedule="auto" means under recipe="stable".
STABLE_SCHEDULE = "cosine"
# recipe="stable" starts beta at the largest of 1, 1/2, ... whose initial loss
# on this many rows is within this factor of the lowest.
_STEP_SEARCH_ROWS = 512
_STEP_SEARCH_FACTOR = 3.0


def _orthonormal_columns(weight):
    """The nearest-in-spirit orthonormal basis of ``weight``'s columns (QR, signs kept).

    Makes ``A = weight.T`` have orthonormal rows, so ``I - A^T A`` is a projection.
    """
    q, r = torch.linalg.qr(weight)
    signs = torch.sign(torch.diagonal(r))
    signs[signs == 0] = 1.0
    return q * signs


@fill_doc(**DECODER_PIECES)
class L1AEEncoder(MeasurementMixin, BaseTorchEstimator):
    """Learned compressed-sensing measurements by gradient unrolling (l1-AE).

    Learns a measurement matrix ``A`` (n_components x n_features) so that the
    vectors of the training distribution are recovered from ``y = A x`` by
    l1 minimisation. Training unrolls ``n_steps`` steps of the projected
    subgradient method for ``min ||x||_1 s.t. A x = y`` into an autoencoder
    and minimises the squared reconstruction error with respect to ``A``
    (Wu et al., ICML 2019). At test time the unrolled decoder is set aside and
    measurements are decoded by an exact LP (``inverse_transform``).

    The network follows the authors' code: step sizes ``alpha_t = beta / t``
    with a single learned ``beta`` starting at 1; after each step a frozen
    batch-norm layer, i.e. a learned per-coordinate affine map; a final ReLU
    for nonnegative data; per-sample squared l2 loss; plain SGD with learning
    rate 0.01 on batches of 128; early stopping on a held-out validation set.

    Two recipes train it. ``recipe="paper"`` is the authors' code: ``W = A^T``
    drawn from a normal distribution truncated at two standard deviations
    with standard deviation ``1/sqrt(n_features)``, up to 1000 epochs with
    patience 60, nothing else. It reproduces the paper in the paper's
    settings, but diverges when m is more than about 15% of d (the unrolled
    step assumes ``A A^T = I``, which a Gaussian ``A`` only meets for small
    m/d). ``recipe="stable"`` (the default) orthonormalises the rows of that
    same draw, so ``I - A^T A`` is the projection the step assumes at any
    m/d; starts ``beta`` at the reference's 1 unless that is far off (the
    largest of 1, 1/2, ..., 1/128 whose initial loss on 512 training rows is
    within 3x of the lowest: the subgradient has norm ``sqrt(d)``, so a
    step that suits d = 1,000 throws a d = 8,000 one-hot row far off); clips
    gradient spikes (5x the median of the last 100 gradient
    norms); rescues a diverging epoch (restores the last good weights and
    lowers the learning rate, with a
    :class:`~skunroll.exceptions.TrainingRescuedWarning`); and sizes the run
    in optimiser steps rather than epochs (``max_epochs="auto"``: about
    3,000 steps, at least 5 epochs; ``n_iter_no_change="auto"``: about 500
    steps). Deliberate differences from the reference in both recipes: the
    validation loss is checked every epoch (the reference checks every 10
    epochs and stops after 6 checks without improvement, so the paper's
    patience of 60 epochs is the same horizon), the last partial batch is
    used instead of dropped, and the best validation weights are restored at
    the end.

    Parameters
    ----------
    n_components : int, default=20
        Number of measurements m (rows of ``A``); at most n_features.
    n_steps : int, default=10
        Number of unrolled projected-subgradient steps T.
    nonnegative : bool, default=True
        The data are nonnegative (one-hot, TF-IDF, label vectors): apply a
        final ReLU in the unrolled decoder, reject negative input, and decode
        with ``"l1-min-pos"`` under ``decoder="auto"``.
    step_sizes : {"harmonic", "per-step"}, default="harmonic"
        ``"harmonic"``: ``alpha_t = beta / t`` with one learned scalar
        ``beta`` (the paper). ``"per-step"``: one learned ``alpha_t`` per step.
    normalization : {"affine", "batch", "none"}, default="affine"
        Layer after each step: ``"affine"`` is the reference's batch norm in
        inference mode (a learned per-coordinate scale and shift);
        ``"batch"`` is a real batch norm with batch statistics; ``"none"``.
    decoder : {"auto", "l1-min-pos", "l1-min", "lasso-pos", "lasso", "bpdn-pos", "bpdn", \
"unrolled"}, default="auto"
        {decoder_doc}
        ``"unrolled"`` runs the trained network (fast, approximate).
    noise_level : float >= 0 or "auto", default="auto"
        {noise_level_doc}
    solver : {"auto", "batched", "highs"}, default="auto"
        How the l1-min decoders solve their LPs: ``"batched"`` (what
        ``"auto"`` means) decodes all vectors at once on ``device`` with a
        certified homotopy and hands the vectors it cannot certify to HiGHS;
        ``"highs"`` solves one LP per vector. See :func:`l1_min_decode`.
    n_jobs : int, default=None
        Joblib workers for the LP decoders.
    recipe : {"stable", "paper"}, default="stable"
        How to train (see above): ``"paper"`` is the reference code's recipe
        exactly;
        ``"stable"`` adds the orthonormal start, the starting-step search,
        step sizes learned on a log scale (``decoder_state_`` then holds
        ``log_beta`` or ``log_alphas``), gradient clipping, divergence rescue
        and a step-based length. It also decides what
        the ``"auto"`` values of ``max_epochs``, ``n_iter_no_change`` and
        ``lr_schedule`` mean; values given explicitly are used as given.
    {training_parameters}

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features), dtype float32
        The learned measurement matrix A.
    step_sizes_ : ndarray of shape (n_steps,)
        The learned step sizes ``alpha_t`` of the unrolled decoder.
    decoder_state_ : dict of str to ndarray
        Every other parameter (and buffer) of the unrolled decoder, as CPU
        arrays: per-step scale and shift, step-size parameters.
    {training_attributes}

    See Also
    --------
    GaussianMeasurement : Random Gaussian measurements with the same API.

    References
    ----------
    S. Wu, A. G. Dimakis, S. Sanghavi, F. X. Yu, D. Holtmann-Rice,
    D. Storcheus, A. Rostamizadeh, S. Kumar. "Learning a Compressed Sensing
    Measurement Matrix via Gradient Unrolling", ICML 2019.

    Examples
    --------
    >>> from skunroll.datasets import make_block_sparse
    >>> from skunroll.sensing import L1AEEncoder
    >>> X = make_block_sparse(n_samples=300, n_features=100, random_state=0)
    >>> encoder = L1AEEncoder(n_components=20, max_epochs=5, random_state=0).fit(X)
    >>> encoder.transform(X[:2]).shape
    (2, 20)
    >>> encoder.inverse_transform(encoder.transform(X[:2])).shape
    (2, 100)
    """

    _training_parameter_notes = {
        "max_epochs": 'Under ``recipe="paper"``, ``"auto"`` is 1000.',
        "n_iter_no_change": 'Under ``recipe="paper"``, ``"auto"`` is 60.',
        "lr_schedule": 'Here ``"auto"`` is ``"constant"`` under ``recipe="paper"`` and '
                       '``"cosine"`` under ``"stable"``.',
        "random_state": "It seeds the initial ``A``.",
    }

    _parameter_constraints = {
        **BaseTorchEstimator._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "n_steps": [Interval(Integral, 1, None, closed="left")],
        "nonnegative": ["boolean"],
        "step_sizes": [StrOptions({"harmonic", "per-step"})],
        "normalization": [StrOptions({"affine", "batch", "none"})],
        "decoder": [StrOptions({"auto", *DECODERS, "unrolled"})],
        "noise_level": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "solver": [StrOptions({"auto", "batched", "highs"})],
        "n_jobs": [Integral, None],
        "recipe": [StrOptions({"stable", "paper"})],
    }

    def __init__(
        self,
        n_components=20,
        *,
        n_steps=10,
        nonnegative=True,
        step_sizes="harmonic",
        normalization="affine",
        decoder="auto",
        noise_level="auto",
        solver="auto",
        n_jobs=None,
        recipe="stable",
        optimizer="sgd",
        learning_rate=0.01,
        batch_size=128,
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

    # ------------------------------------------------------------- training
    def _fit(self, X, y=None, *, incremental=None, classes=None):
        warm = self._is_warm(incremental)
        X = self._validate_X(X, reset=not warm)
        check_n_components(self.n_components, X.shape[1])
        self._check_decoder()
        return self._train(as_csr_or_array(X), incremental=incremental)

    def _structure(self):
        return {"n_components": self.n_components, "n_steps": self.n_steps,
                "step_sizes": self.step_sizes, "normalization": self.normalization,
                "nonnegative": self.nonnegative, "log_step_sizes": self.recipe == "stable"}

    def _network(self, weight, structure, step_size_init=1.0):
        return L1AENetwork(
            weight, step_size_init=step_size_init,
            n_steps=structure["n_steps"],
            step_sizes=structure["step_sizes"],
            normalization=structure["normalization"],
            nonnegative=structure["nonnegative"],
            log_step_sizes=structure["log_step_sizes"],
        )

    def _build_module(self, X, generator, y=None, side=None):
        n_features = X.shape[1]
        weight = torch.empty(n_features, self.n_components)
        # Normal truncated at +-2 std, std 1/sqrt(d), as tf.truncated_normal.
        std = 1.0 / np.sqrt(n_features)
        torch.nn.init.trunc_normal_(weight, std=std, a=-2 * std, b=2 * std, generator=generator)
        if self.recipe == "paper":
            return self._network(weight, self._structure())
        weight = _orthonormal_columns(weight)
        return self._network(weight, self._structure(),
                             step_size_init=self._initial_step_scale(weight, X))

    def _initial_step_scale(self, weight, X):
        """The starting beta of ``recipe="stable"``: the reference's 1 unless that is far off.

        The subgradient ``sign(x)`` has norm ``sqrt(d)``, so a first step of
        ``beta = 1`` that suits d = 1,000 throws the iterate far off on
        d = 8,000 one-hot rows (initial loss 15x that of a small step), and
        SGD diverges from there. Returns the largest of 1, 1/2, ..., 1/128 whose
        initial loss on (up to) 512 training rows is within 3x of the lowest.
        """
        rows = X[: _STEP_SEARCH_ROWS]
        batch = torch.as_tensor(rows.toarray() if sp.issparse(rows) else rows,
                                dtype=torch.float32)
        candidates = [2.0**-k for k in range(8)]
        losses = []
        with torch.no_grad():
            for beta in candidates:
                network = self._network(weight, self._structure(), step_size_init=beta)
                losses.append(float(self._batch_loss(network, batch, None, None)))
        finite = [loss for loss in losses if np.isfinite(loss)]
        if not finite:
            return 1.0
        return next(beta for beta, loss in zip(candidates, losses, strict=False)
                    if loss <= _STEP_SEARCH_FACTOR * min(finite))

    def _training_plan(self, n_train):
        plan = super()._training_plan(n_train)
        if self.recipe == "paper":
            return replace(
                plan,
                max_epochs=1000 if self.max_epochs == "auto" else self.max_epochs,
                n_iter_no_change=60 if self.n_iter_no_change == "auto" else self.n_iter_no_change,
                clip_gradients=False, rescue=False,
            )
        schedule = STABLE_SCHEDULE if self.lr_schedule == "auto" else self.lr_schedule
        return replace(plan, lr_schedule=schedule, clip_gradients=True)

    def _module_from_attributes(self):
        # Built from what was fitted, not from parameters changed since.
        module = self._network(torch.from_numpy(self.components_.T.copy()),
                               self._fitted_structure)
        state = {name: torch.from_numpy(value) for name, value in self.decoder_state_.items()}
        state["weight"] = torch.from_numpy(self.components_.T.copy())
        module.load_state_dict(state)
        return module

    def _batch_loss(self, module, X_batch, y_batch, side_batch):
        return squared_error_loss(module(X_batch), X_batch)

    def _attributes_from_module(self, module):
        state = module.state_dict()
        return {
            "components_": to_numpy(state.pop("weight")).T.copy(),
            "step_sizes_": to_numpy(module.step_sizes()),
            "decoder_state_": {name: value.detach().cpu().numpy().copy()
                               for name, value in state.items()},
        }

    # ------------------------------------------------------------- decoding
    def _decode_network(self, Y):
        return self._forward(Y, self.components_.shape[1], method="decode", dtype=Y.dtype)
