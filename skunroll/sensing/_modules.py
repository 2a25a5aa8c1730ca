"""The l1-AE network: a linear encoder and T unrolled projected-subgradient steps.

Wu et al., "Learning a Compressed Sensing Measurement Matrix via Gradient
Unrolling", ICML 2019. With ``W = A^T`` (d x m) and ``y = x W``::

    x(1)   = y W^T                                        (= A^T y)
    x(t+1) = affine_t( x(t) - alpha_t (s - (s W) W^T) ),  s = sign(x(t))
    x_hat  = ReLU(x(T+1))                                 (nonnegative data)

``(s W) W^T`` is ``A^T A s`` computed through the m-dimensional bottleneck, so
the d x d matrix ``I - A^T A`` is never formed.
"""

import math

import torch
from torch import nn

# The reference runs tf.layers.batch_normalization in inference mode with its
# initial moving statistics (mean 0, variance 1) and epsilon 1e-3, so each
# step applies gamma * x / sqrt(1 + 1e-3) + beta.
_FROZEN_BN_SCALE = 1.0 / math.sqrt(1.0 + 1e-3)


class StepAffine(nn.Module):
    """Per-coordinate learned affine map ``gamma * x + beta`` (frozen batch norm)."""

    def __init__(self, n_features):
        super().__init__()
        self.weight = nn.Parameter(torch.full((n_features,), _FROZEN_BN_SCALE))
        self.bias = nn.Parameter(torch.zeros(n_features))

    def forward(self, x):
        return torch.addcmul(self.bias, x, self.weight)


def _subgradient_steps_(x_t, weight, alphas, gammas, betas, signs=None, projected=None):
    """Apply the T steps in place to ``x_t``, the (d, batch) transpose of x, without autograd.

    The steps run feature-major: the products that write a (d, batch)
    output, ``x^T += W (s W)^T``, run faster on the CPU than the same products
    into a (batch, d) output (their inner dimension, m, is small), and they
    are a third of the step's flops. Every step reuses one buffer for its float signs
    instead of allocating the several temporaries of the expression
    ``gamma (x - alpha (s - (s W) W^T)) + beta``. When given, ``signs``
    (T, d, batch) int8 and ``projected`` (T, batch, m) receive each step's
    sign pattern and ``s_t W``, what the reversible backward needs.
    """
    s_t = torch.empty_like(x_t)
    step_projected = None if projected is not None else x_t.new_empty(
        (x_t.shape[1], weight.shape[1]))
    for t, alpha in enumerate(alphas.tolist()):  # one host sync, not one per step
        torch.sign(x_t, out=s_t)
        if signs is not None:
            signs[t].copy_(s_t)
        if projected is not None:
            step_projected = projected[t]
        torch.mm(s_t.T, weight, out=step_projected)
        # x - alpha_t (s - (s W) W^T), then the per-coordinate affine map.
        x_t.add_(s_t, alpha=-alpha).addmm_(weight, step_projected.T, alpha=alpha)
        torch.addcmul(betas[t, :, None], x_t, gammas[t, :, None], out=x_t)
    return x_t


class _ReversibleSubgradientSteps(torch.autograd.Function):
    """The T unrolled steps with memory independent of T, on ``x^T`` (d, batch).

    Forward keeps, per step, only what cannot be recomputed: the sign
    pattern ``s_t`` (int8, a quarter of a float32) and ``s_t W`` (batch x m,
    small). Backward walks the steps in reverse and rebuilds each input from
    the next step's output, ``x(t) = (x(t+1) - beta_t) / gamma_t + alpha_t
    (s_t - (s_t W) W^T)``: with the signs stored, rounding in the rebuilt
    ``x(t)`` cannot flip a branch, so the gradients are those of autograd to
    float32 rounding. Backward costs the flops of autograd's 4 GEMMs per
    step, forward 2; every step reuses the same few (d, batch) buffers.
    Activation memory is O(batch x d) floats plus T int8 sign patterns
    instead of several float tensors per step.
    """

    @staticmethod
    def forward(ctx, x_t, weight, alphas, gammas, betas):
        n_steps = alphas.shape[0]
        x_t = x_t.clone()  # updated in place below; the caller's tensor stays as it was
        signs = torch.empty((n_steps,) + x_t.shape, dtype=torch.int8, device=x_t.device)
        projected = x_t.new_empty((n_steps, x_t.shape[1], weight.shape[1]))
        _subgradient_steps_(x_t, weight, alphas, gammas, betas, signs=signs,
                            projected=projected)
        ctx.save_for_backward(x_t, weight, alphas, gammas, betas, signs, projected)
        return x_t

    @staticmethod
    def backward(ctx, grad_output):
        x_t, weight, alphas, gammas, betas, signs, projected = ctx.saved_tensors
        grad_weight = torch.zeros_like(weight)
        grad_alphas = torch.empty_like(alphas)
        grad_gammas = torch.empty_like(gammas)
        grad_betas = torch.empty_like(betas)
        steps = alphas.tolist()
        inverse_gammas = gammas.reciprocal()
        shifts = -betas * inverse_gammas
        grad = grad_output.clone(memory_format=torch.contiguous_format)  # updated in place
        s_t = torch.empty_like(x_t)
        before = torch.empty_like(x_t)  # every step's input is rebuilt in this buffer
        product = torch.empty_like(x_t)
        grad_projected = x_t.new_empty(projected.shape[1:])
        for t in range(len(steps) - 1, -1, -1):
            alpha = steps[t]
            # u = (x - beta_t) / gamma_t, the input of the affine map, in one pass.
            torch.addcmul(shifts[t, :, None], x_t, inverse_gammas[t, :, None], out=before)
            x_t = before
            torch.sum(torch.mul(grad, before, out=product), 1, out=grad_gammas[t])
            torch.sum(grad, 1, out=grad_betas[t])
            grad.mul_(gammas[t, :, None])  # d loss / d u
            s_t.copy_(signs[t])
            torch.mm(grad.T, weight, out=grad_projected)
            step_projected = projected[t]
            # d loss / d alpha_t = -<g, s - (s W) W^T> = <g W, s W> - <g, s>.
            grad_alphas[t] = (torch.vdot(grad_projected.reshape(-1), step_projected.reshape(-1))
                              - torch.vdot(grad.reshape(-1), s_t.reshape(-1)))
            # W's gradient from step t: alpha_t (s^T (g W) + g^T (s W)).
            grad_weight.addmm_(s_t, grad_projected, alpha=alpha)
            grad_weight.addmm_(grad, step_projected, alpha=alpha)
            # x(t) = u + alpha_t (s - (s W) W^T); sign(x) has zero derivative,
            # so d u / d x(t) is the identity.
            before.add_(s_t, alpha=alpha).addmm_(weight, step_projected.T, alpha=-alpha)
        return grad, grad_weight, grad_alphas, grad_gammas, grad_betas


class L1AENetwork(nn.Module):
    """l1-AE: encoder ``y = x W`` and T unrolled projected-subgradient steps.

    Parameters
    ----------
    weight : Tensor of shape (n_features, n_components)
        Initial ``W = A^T``.
    n_steps : int
        Number of unrolled steps T.
    step_sizes : {"harmonic", "per-step"}
        ``"harmonic"``: ``alpha_t = beta / t`` with one learned scalar beta
        (the reference). ``"per-step"``: one learned ``alpha_t`` per step.
    step_size_init : float
        Initial beta, or the scale of the initial ``alpha_t = init / t``.
    normalization : {"affine", "batch", "none"}
        What follows each step: the reference's frozen batch norm (a learned
        per-coordinate affine map), a real :class:`torch.nn.BatchNorm1d`
        with batch statistics, or nothing.
    nonnegative : bool
        Apply the final ReLU.
    reversible : bool
        Train with the steps' memory independent of T (rebuild each step's
        input in the backward pass, :class:`_ReversibleSubgradientSteps`)
        under ``"affine"`` and ``"none"`` normalization; ``"batch"`` keeps
        autograd's stored activations. The gradients are the same to float32
        rounding.
    log_step_sizes : bool
        Learn the logarithm of beta (or of each ``alpha_t``): the step sizes
        stay positive and a gradient step changes them by a factor, not by
        an amount. With plain beta, one SGD step at the reference's learning
        rate moves a small beta (what a wide ``d`` needs) by more than its
        own size, through zero, and the steps climb instead of descend.
    """

    def __init__(self, weight, n_steps, step_sizes="harmonic", step_size_init=1.0,
                 normalization="affine", nonnegative=True, reversible=True,
                 log_step_sizes=False):
        super().__init__()
        self.normalization = normalization
        self.reversible = reversible
        n_features = weight.shape[0]
        self.weight = nn.Parameter(weight.clone())
        self.n_steps = n_steps
        self.step_size_rule = step_sizes
        self.nonnegative = nonnegative
        inverse_t = 1.0 / torch.arange(1, n_steps + 1, dtype=weight.dtype)
        self.register_buffer("inverse_t", inverse_t)
        self.log_step_sizes = log_step_sizes
        if step_sizes == "harmonic":
            beta = torch.tensor(float(step_size_init), dtype=weight.dtype)
            if log_step_sizes:
                self.log_beta = nn.Parameter(beta.log())
            else:
                self.beta = nn.Parameter(beta)
        else:
            alphas = step_size_init * inverse_t.clone()
            if log_step_sizes:
                self.log_alphas = nn.Parameter(alphas.log())
            else:
                self.alphas = nn.Parameter(alphas)
        if normalization == "affine":
            self.norms = nn.ModuleList(StepAffine(n_features) for _ in range(n_steps))
        elif normalization == "batch":
            self.norms = nn.ModuleList(nn.BatchNorm1d(n_features) for _ in range(n_steps))
        else:
            self.norms = nn.ModuleList(nn.Identity() for _ in range(n_steps))

    def step_sizes(self):
        """The T step sizes alpha_t as a tensor."""
        if self.step_size_rule == "harmonic":
            beta = self.log_beta.exp() if self.log_step_sizes else self.beta
            return beta * self.inverse_t
        return self.log_alphas.exp() if self.log_step_sizes else self.alphas

    def encode(self, x):
        return x @ self.weight

    def decode(self, y):
        weight = self.weight
        alphas = self.step_sizes()
        if self.normalization != "batch":
            # Feature-major, x^T = W y^T (see _subgradient_steps_).
            if not torch.is_grad_enabled():  # inference: in place, a few buffers
                x_t = _subgradient_steps_(weight @ y.T, weight, alphas,
                                          *self._affine_parameters())
                x = x_t.T.contiguous()  # callers get row-major rows
                return torch.relu_(x) if self.nonnegative else x
            if self.reversible:
                x_t = _ReversibleSubgradientSteps.apply(weight @ y.T, weight, alphas,
                                                        *self._affine_parameters())
                return torch.relu(x_t.T) if self.nonnegative else x_t.T
        x = y @ weight.T
        for t in range(self.n_steps):
            s = torch.sign(x)
            # x - alpha_t (I - A^T A) s, without the d x d matrix.
            x = x - alphas[t] * (s - (s @ weight) @ weight.T)
            x = self.norms[t](x)
        if self.nonnegative:
            x = torch.relu(x)
        return x

    def forward(self, x):
        return self.decode(self.encode(x))

    def _affine_parameters(self):
        """``(gammas, betas)`` of shape (T, d): the steps' affine maps (identity for "none")."""
        if self.normalization == "affine":
            return (torch.stack([norm.weight for norm in self.norms]),
                    torch.stack([norm.bias for norm in self.norms]))
        shape = (self.n_steps, self.weight.shape[0])
        return self.weight.new_ones(shape), self.weight.new_zeros(shape)


class LinearReLUAutoencoder(nn.Module):
    """The l1-AE paper's "simple AE": ``y = x W_e``, ``x_hat = ReLU(y W_d)``, no biases.

    Parameters
    ----------
    encoder_weight : Tensor of shape (n_features, n_components)
        ``W_e``; the measurement matrix is its transpose.
    decoder_weight : Tensor of shape (n_components, n_features)
    """

    def __init__(self, encoder_weight, decoder_weight):
        super().__init__()
        self.weight = nn.Parameter(encoder_weight.clone())
        self.decoder_weight = nn.Parameter(decoder_weight.clone())

    def encode(self, x):
        return x @ self.weight

    def decode(self, y):
        return torch.relu(y @ self.decoder_weight)

    def forward(self, x):
        return self.decode(self.encode(x))


class FeedForwardAutoencoder(nn.Module):
    """A 4-layer ReLU autoencoder: ``d -> h -> m`` and ``m -> h -> d`` (ReLU hidden layers).

    Parameters
    ----------
    n_features, n_components, hidden_size : int
    nonnegative : bool, default=True
        Clip the reconstruction at 0 in eval mode. Training sees the linear
        output: trained through a final ReLU, the output units whose
        pre-activation turns negative get no gradient and the network
        stalls at reconstructing the mean.
    """

    def __init__(self, n_features, n_components, hidden_size, nonnegative=True):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(n_features, hidden_size), nn.ReLU(),
                                     nn.Linear(hidden_size, n_components))
        self.decoder = nn.Sequential(nn.Linear(n_components, hidden_size), nn.ReLU(),
                                     nn.Linear(hidden_size, n_features))
        self.nonnegative = nonnegative

    def encode(self, x):
        return self.encoder(x)

    def decode(self, y):
        x = self.decoder(y)
        return torch.relu(x) if self.nonnegative and not self.training else x

    def forward(self, x):
        return self.decode(self.encode(x))
