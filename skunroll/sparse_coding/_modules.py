"""Unrolled thresholding networks (deep l0 encoders, LISTA) and the tied ReLU autoencoder.

K stages share ``W`` (p x n_features), ``S`` (p x p) and, for the
thresholded forms, the thresholds ``theta`` (p,)::

    a(1)   = h(x W^T)
    a(k+1) = h(x W^T + a(k) S^T)

with ``h`` one of: ``theta * HELU(u / theta)`` (hard thresholding, the deep
l0 encoder of Wang, Ling and Huang, AAAI 2016), max-M pooling (the M-sparse
deep l0 encoder), or soft thresholding ``sign(u) max(|u| - theta, 0)``
(LISTA, Gregor and LeCun, ICML 2010).
"""

import numpy as np
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..utils._losses import squared_error_loss


def _at_least(values, bound):
    """1.0 where ``values >= bound``, else 0.0, in ``values``' dtype, without gradient.

    By float arithmetic (``sign(v - b) + 1``, clipped at 1), not a comparison:
    on the CPU, torch's kernels that write or read bool tensors (comparisons,
    ``where``) are scalar loops that branch on each element, slowest on the
    unpredictable supports of real codes. ``v - b`` is 0 only where ``v == b``
    (with gradual underflow, torch's default), so for non-NaN values the mask
    is the comparison's, bit for bit. A NaN gives 1 (torch's ``sign(nan)`` is
    0): NaN passes :func:`_at_least` and fails :func:`_above`.
    """
    with torch.no_grad():
        return (values - bound).sign_().add_(1).clamp_(max=1)


def _above(values, bound):
    """1.0 where ``values > bound``, else 0.0 (see :func:`_at_least`)."""
    with torch.no_grad():
        return (values - bound).sign_().clamp_(min=0)


def _keep_where(mask, values):
    """``values`` where ``mask`` is 1, else +0.0 (never -0.0): ``where(mask, values, 0)``.

    Autograd keeps the float mask for backward (``where`` kept a bool one): a
    custom function keeping it as int8 cost more time than the bytes saved.
    """
    return values * mask + 0.0


def helu(u):
    """Hard thrEsholding Linear Unit: ``u`` where ``|u| >= 1``, else 0."""
    return _keep_where(_at_least(u.abs(), 1), u)


class _HeluSigma(torch.autograd.Function):
    """HELU_sigma by float masks, keeping 3 bytes an element for backward.

    The forward and backward repeat, operation for operation, what autograd
    does for ``where(|u| >= 1, u, where(|u| > 1 - sigma, ramp, 0))``, so
    values and gradients are the ``where`` form's (up to the sign of zeros);
    the masks and the signs are kept as int8. Written with ``setup_context``
    (the masks are extra, non-differentiable outputs) so that ``torch.func``
    transforms (``vmap``, ``grad``) apply.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(u, sigma):
        magnitude = u.abs()
        signs = torch.sign(u)
        # |u| is capped at 1 in the ramp, which the outer part masks out
        # anyway: a huge |u| would make it inf, and inf * 0 NaN.
        ramp = signs * (magnitude.clamp(max=1) - 1 + sigma) / sigma
        inner = _above(magnitude, 1 - sigma)
        outer = _at_least(magnitude, 1)
        out = u * outer + (ramp * inner) * (1 - outer)
        return out, outer.to(torch.int8), inner.to(torch.int8), signs.to(torch.int8)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.sigma = inputs[1]
        masks = output[1:]
        ctx.mark_non_differentiable(*masks)
        ctx.save_for_backward(*masks)

    @staticmethod
    def backward(ctx, grad, *_):
        outer, inner, signs = ctx.saved_tensors
        ramp_grad = (grad * (1 - outer)) * inner / ctx.sigma * signs
        # d|u|/du is sign(u); the sign itself has no gradient.
        return grad * outer + ramp_grad * signs, None


def helu_sigma(u, sigma):
    """Continuous, piecewise-linear HELU_sigma of seed eq. (9).

    0 for ``|u| <= 1 - sigma``; ``u`` for ``|u| >= 1``; linear in between
    (``(u - 1 + sigma) / sigma`` on the positive side, odd symmetric).
    Tends to :func:`helu` as ``sigma -> 0``.
    """
    return _HeluSigma.apply(u, sigma)[0]


def keep_largest(U, n_nonzero_coefs):
    """Max-M pooling and unpooling: keep each row's ``n_nonzero_coefs`` largest magnitudes.

    ``U`` is a NumPy array (the iterative solvers) or a torch tensor (the
    networks). Ties go to the lower index (a stable sort), so the result is
    deterministic; for a tensor the gradient flows through the kept
    positions only.
    """
    if isinstance(U, torch.Tensor):
        order = torch.sort(-U.abs(), dim=1, stable=True).indices[:, :n_nonzero_coefs]
        return U * torch.zeros_like(U).scatter_(1, order, 1.0)
    order = np.argsort(-np.abs(U), axis=1, kind="stable")[:, :n_nonzero_coefs]
    out = np.zeros_like(U)
    rows = np.arange(U.shape[0])[:, None]
    out[rows, order] = U[rows, order]
    return out


def soft_threshold(u, theta):
    """Soft thresholding ``sign(u) max(|u| - theta, 0)`` (the l1 proximal map)."""
    return torch.sign(u) * torch.relu(u.abs() - theta)


#: ``checkpoint_steps="auto"`` recomputes the stages in the backward pass
#: when autograd would keep more than this many bytes for them.
CHECKPOINT_ABOVE_BYTES = 256 * 2**20

#: Float tensors of shape (batch, n_components) autograd keeps per stage
#: (the product's input, the pre-activation and the thresholding's
#: intermediates; measured with saved-tensor hooks).
_TENSORS_PER_STAGE = 7

#: The pluggable nonlinearities ``h`` of :class:`UnrolledThresholdingNetwork`.
SHRINKAGES = ("hard", "soft", "top-m")


class UnrolledThresholdingNetwork(nn.Module):
    """Unrolled ISTA / IHT with shared, learned ``W``, ``S`` and ``theta``.

    Parameters
    ----------
    weight : Tensor of shape (n_components, n_features)
        Initial ``W`` (``mu D`` for a dictionary ``D`` with atoms as rows).
    recurrent : Tensor of shape (n_components, n_components)
        Initial ``S`` (``I - mu D D^T``).
    thresholds : Tensor of shape (n_components,) or None
        Initial ``theta``: ``sqrt(alpha mu)`` for IHT, ``alpha mu`` for ISTA; None
        for ``shrinkage="top-m"``.
    n_steps : int
        K.
    shrinkage : {"hard", "soft", "top-m"}
        ``h``: hard thresholding (HELU, or HELU_sigma while training with a
        ``sigma``), soft thresholding, or max-M pooling.
    n_nonzero_coefs : int or None
        M, for ``shrinkage="top-m"``.
    checkpoint_steps : {"auto"} or bool, default="auto"
        While training, keep only each stage's input codes (batch x
        n_components) for the backward pass and recompute the stage there
        (per-step checkpointing), instead of the about seven such tensors
        autograd keeps per stage. The gradients are bit-identical; a training
        step costs about one more forward pass (+30-40% time with
        thresholds, +75% with max-M pooling, whose sort is rerun). ``"auto"``
        checkpoints when autograd's stages would keep more than
        :data:`CHECKPOINT_ABOVE_BYTES`.
    """

    def __init__(self, weight, recurrent, thresholds, n_steps, shrinkage, n_nonzero_coefs=None,
                 checkpoint_steps="auto"):
        super().__init__()
        if shrinkage not in SHRINKAGES:
            raise ValueError(f"shrinkage={shrinkage!r} is not one of {list(SHRINKAGES)}.")
        if (shrinkage == "top-m") != (thresholds is None) or (
                shrinkage == "top-m" and n_nonzero_coefs is None):
            raise ValueError("Give thresholds for hard or soft thresholding, n_nonzero_coefs "
                             "(and no thresholds) for top-m.")
        self.weight = nn.Parameter(weight.clone())
        self.recurrent = nn.Parameter(recurrent.clone())
        self.thresholds = nn.Parameter(thresholds.clone()) if thresholds is not None else None
        self.n_steps = n_steps
        self.shrinkage = shrinkage
        self.n_nonzero_coefs = n_nonzero_coefs
        self.checkpoint_steps = checkpoint_steps
        # sigma of HELU_sigma while training; None trains with the exact HELU.
        self.sigma = None

    def _thresholds_in_use(self):
        """``theta`` as the shrinkage applies it (None for top-m).

        Computed once per forward pass: every stage shares it, and each
        recomputation would add its operations to the autograd graph.
        """
        if self.shrinkage == "top-m":
            return None
        theta = self.thresholds.abs()
        return theta if self.shrinkage == "soft" else theta.clamp_min(1e-8)

    def threshold(self, u, theta=None):
        """The shrinkage ``h`` applied to ``u``; ``theta`` as from the thresholds if not given."""
        if self.shrinkage == "top-m":
            return keep_largest(u, self.n_nonzero_coefs)
        if theta is None:
            theta = self._thresholds_in_use()
        if self.shrinkage == "soft":
            return soft_threshold(u, theta)
        if self.training and self.sigma is not None:
            # theta * HELU_sigma(u / theta): two diagonal scalings around a unit threshold.
            return theta * helu_sigma(u / theta, self.sigma)
        # theta * HELU(u / theta), without the scalings: it keeps u where |u| >= theta.
        return _keep_where(_at_least(u.abs(), theta), u)

    def _checkpoints(self, drive):
        if self.checkpoint_steps != "auto":
            return bool(self.checkpoint_steps)
        kept = _TENSORS_PER_STAGE * (self.n_steps - 1) * drive.numel() * drive.element_size()
        return kept > CHECKPOINT_ABOVE_BYTES

    def _stage(self, drive, codes, theta):
        return self.threshold(drive + codes @ self.recurrent.T, theta)

    def forward(self, x):
        theta = self._thresholds_in_use()
        drive = x @ self.weight.T
        codes = self.threshold(drive, theta)
        recompute = torch.is_grad_enabled() and self._checkpoints(drive)
        for _ in range(self.n_steps - 1):
            if recompute:
                # The stage is deterministic (no dropout, stable sort), so its
                # rerun in the backward pass reproduces the forward exactly.
                codes = checkpoint(self._stage, drive, codes, theta, use_reentrant=False,
                                   preserve_rng_state=False)
            else:
                codes = self._stage(drive, codes, theta)
        return codes


class DeepL0ClassifierNetwork(nn.Module):
    """A deep l0 encoder followed by a linear softmax head.

    With ``split_signs`` the head reads ``max(z, 0)`` and ``max(-z, 0)`` as
    separate features (Coates and Ng's sign split): a linear function of the
    signed codes of a hard threshold is almost linear in the input, one of
    the two parts is not.
    """

    def __init__(self, encoder, n_classes, split_signs=False):
        super().__init__()
        self.encoder = encoder
        self.split_signs = split_signs
        n_features = encoder.weight.shape[0] * (2 if split_signs else 1)
        self.head = nn.Linear(n_features, n_classes)

    def forward(self, x):
        codes = self.encoder(x)
        if self.split_signs:
            codes = torch.relu(torch.cat([codes, -codes], dim=1))
        return self.head(codes)


class TiedReLUAutoencoder(nn.Module):
    """One hidden ReLU layer with tied weights (Rangamani et al., 2018).

    ``r = ReLU(W y - eps)``, ``y_hat = W^T r`` for a signal ``y`` (row
    convention: ``r = ReLU(y W^T - eps)``, ``y_hat = r W``). The rows of ``W``
    are the dictionary atoms.

    Parameters
    ----------
    weight : Tensor of shape (n_components, n_features)
        Initial ``W``.
    bias : float
        The threshold ``eps`` shared by all hidden units.
    learn_bias : bool, default=False
        Train ``eps`` with ``W`` (a parameter) or keep it fixed (a buffer).
    """

    def __init__(self, weight, bias, learn_bias=False):
        super().__init__()
        self.weight = nn.Parameter(weight.clone())
        self.learn_bias = learn_bias
        self.initial_bias = float(bias)
        bias = torch.as_tensor(float(bias), dtype=weight.dtype)
        if learn_bias:
            self.bias = nn.Parameter(bias)
        else:
            self.register_buffer("bias", bias)
        # Training state for restarting dead atoms: how often each unit fired
        # since the last restart, and the latest batch's residuals to aim at.
        self.register_buffer("n_active", torch.zeros(weight.shape[0], dtype=torch.long),
                             persistent=False)
        self.last_residuals = None

    def encode(self, y):
        return torch.relu(y @ self.weight.T - self.bias)

    @torch.no_grad()
    def record_activity(self, codes, residuals):
        """Count the units that fired on a batch and keep its residuals."""
        self.n_active += (codes > 0).sum(dim=0)
        self.last_residuals = residuals.detach()

    @torch.no_grad()
    def restart_dead_atoms(self):
        """Point the atoms that never fired since the last call at the largest residuals.

        One residual per dead atom, largest first; then the counts start anew.
        """
        if self.last_residuals is not None:
            dead = torch.nonzero(self.n_active == 0).ravel()
            norms = self.last_residuals.norm(dim=1)
            n_restart = min(len(dead), int((norms > 0).sum()))
            worst = torch.argsort(norms, descending=True)[:n_restart]
            self.weight[dead[:n_restart]] = self.last_residuals[worst] / norms[worst, None]
        self.n_active.zero_()

    def forward(self, y):
        return self.encode(y) @ self.weight

    @torch.no_grad()
    def normalize_atoms(self):
        """Project every atom (row of ``W``) back onto the unit sphere."""
        self.weight /= self.weight.norm(dim=1, keepdim=True).clamp_min(1e-12)


def relu_autoencoder_loss(weight, y, bias):
    """Mean over samples of ``||y - W^T ReLU(W y - eps)||^2`` (the paper's loss).

    Parameters
    ----------
    weight : Tensor of shape (n_components, n_features)
    y : Tensor of shape (n_samples, n_features)
    bias : float or Tensor

    Returns
    -------
    loss : Tensor (scalar), differentiable in ``weight`` (and ``bias``).
    """
    return squared_error_loss(torch.relu(y @ weight.T - bias) @ weight, y)
