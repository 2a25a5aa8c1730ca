"""Batched first-order solvers with a duality-gap certificate per row.

They take the rows that the homotopy could not certify, warm-started from
its last iterate, and run on the same device, all rows at once (two products
with ``A`` per iteration, shared by the batch):

- the LP of exact l1-min, ``min 1'z s.t. B z = y, z >= 0``, by the restarted
  primal-dual hybrid gradient of PDLP (Applegate et al., 2021): diagonal
  (Ruiz and Pock-Chambolle) preconditioning, restarts to the average or the
  current iterate when their KKT error has fallen enough, and a primal weight
  rebalanced at each restart;
- the lasso ``min 1/2 ||y - A x||^2 + alpha ||x||_1`` (``x >= 0`` if
  positive), by FISTA with adaptive restarts (O'Donoghue and Candes, 2015).

A row stops when its relative KKT error (primal residual, dual infeasibility
and duality gap) is at most ``tol``. Its certificate is then a duality gap
that holds exactly: for the LP, the dual ``w`` scaled into ``B'w <= 1`` gives a
lower bound ``(B z)'w`` for the measurements ``B z`` that ``z`` fits exactly;
for the lasso, the residual scaled into ``|A'theta| <= alpha`` gives a dual
value. Both are reported relative to the primal value.
"""

import math

import torch

#: PDLP's restart thresholds: sufficient, necessary decrease of the KKT error,
#: and the share of the iterations after which a restart is forced.
_SUFFICIENT, _NECESSARY, _ARTIFICIAL = 0.2, 0.8, 0.36


class _Scaled:
    """``B`` (``A`` or ``[A, -A]``) with diagonal preconditioning ``D_r B D_c``."""

    def __init__(self, A, positive, ruiz_iterations=10):
        self.positive = positive
        scaled = A.clone()
        row_scale = torch.ones(A.shape[0], dtype=A.dtype, device=A.device)
        col_scale = torch.ones(A.shape[1], dtype=A.dtype, device=A.device)
        for _ in range(ruiz_iterations):
            r = scaled.abs().amax(dim=1).clamp(min=1e-300).rsqrt()
            c = scaled.abs().amax(dim=0).clamp(min=1e-300).rsqrt()
            scaled = scaled * r[:, None] * c[None, :]
            row_scale, col_scale = row_scale * r, col_scale * c
        r = scaled.abs().sum(dim=1).clamp(min=1e-300).rsqrt()
        c = scaled.abs().sum(dim=0).clamp(min=1e-300).rsqrt()
        self.A = scaled * r[:, None] * c[None, :]
        self.row_scale, self.col_scale = row_scale * r, col_scale * c
        self.norm = _spectral_norm(self.A) * (1.0 if positive else math.sqrt(2.0))

    def forward(self, z):
        """``B z`` for z of shape (rows, n_columns)."""
        d = self.A.shape[1]
        x = z if self.positive else z[:, :d] - z[:, d:]
        return x @ self.A.T

    def adjoint(self, w):
        """``B'w`` for w of shape (rows, m)."""
        product = w @ self.A
        return product if self.positive else torch.cat([product, -product], dim=1)

    def column_scale(self):
        return self.col_scale if self.positive else torch.cat([self.col_scale, self.col_scale])


def _spectral_norm(A, iterations=30):
    v = torch.ones(A.shape[1], dtype=A.dtype, device=A.device)
    v = v / v.norm()
    norm = torch.zeros((), dtype=A.dtype, device=A.device)
    for _ in range(iterations):
        u = A @ v
        v = A.T @ u
        norm = v.norm()
        v = v / norm.clamp(min=1e-300)
    return float(norm.sqrt())


def _lp_kkt(B, z, w, y):
    """Relative primal residual, dual infeasibility and duality gap, in the original scaling.

    ``z`` and ``w`` are scaled iterates; ``y`` the original measurements.
    """
    z_orig = z * B.column_scale()
    w_orig = w * B.row_scale
    original = _Original(B)
    primal = (original.forward(z_orig) - y).norm(dim=1) / (1.0 + y.norm(dim=1))
    reduced = original.adjoint(w_orig)
    dual = (reduced - 1.0).clamp(min=0.0).norm(dim=1) / (1.0 + math.sqrt(reduced.shape[1]))
    cost, dual_cost = z_orig.sum(dim=1), (y * w_orig).sum(dim=1)
    gap = (cost - dual_cost).abs() / (1.0 + cost.abs() + dual_cost.abs())
    return primal, dual, gap


class _Original:
    """``B`` without the scaling, from a ``_Scaled``."""

    def __init__(self, scaled):
        self.scaled = scaled

    def forward(self, z):
        return self.scaled.forward(z / self.scaled.column_scale()) / self.scaled.row_scale

    def adjoint(self, w):
        return self.scaled.adjoint(w / self.scaled.row_scale) / self.scaled.column_scale()


def pdhg_lp(A, Y, *, positive, z0=None, w0=None, tol=1e-6, max_iter=20000, check_every=64):
    """Restarted PDHG for ``min 1'z s.t. B z = y, z >= 0``, one problem per row of Y.

    Parameters
    ----------
    A : tensor of shape (m, d), float64
    Y : tensor of shape (rows, m), float64
    positive : bool
        ``B = A``; otherwise ``B = [A, -A]`` and ``z`` has ``2 d`` entries.
    z0, w0 : tensors, optional
        Warm start (primal ``z`` and dual ``w``).
    tol : float
        Relative KKT error at which a row stops.
    max_iter : int
    check_every : int
        Iterations between KKT evaluations (restarts and stopping).

    Returns
    -------
    z : tensor of shape (rows, n_columns)
    w : tensor of shape (rows, m)
    converged : bool tensor of shape (rows,)
    gap : tensor of shape (rows,)
        Relative gap ``(1'z - (B z)'w_f) / 1'z`` with ``w_f = w / max(1, max(B'w))``,
        a bound on ``z``'s suboptimality for the measurements ``B z``.
    residual : tensor of shape (rows,)
        ``||B z - y|| / ||y||``.
    iterations : long tensor of shape (rows,)
    """
    B = _Scaled(A, positive)
    n_rows, n_columns = len(Y), A.shape[1] * (1 if positive else 2)
    dtype, device = A.dtype, A.device
    cost = B.column_scale()[None, :]  # c = 1 in the scaled variables
    target = Y * B.row_scale
    z = torch.zeros(n_rows, n_columns, dtype=dtype, device=device) if z0 is None \
        else z0 / B.column_scale()
    w = torch.zeros(n_rows, A.shape[0], dtype=dtype, device=device) if w0 is None \
        else w0 / B.row_scale
    omega = (cost.norm() / target.norm(dim=1).clamp(min=1e-300)).clamp(1e-4, 1e4)
    step = 0.95 / B.norm
    out_z, out_w = z.clone(), w.clone()
    converged = torch.zeros(n_rows, dtype=torch.bool, device=device)
    iterations = torch.zeros(n_rows, dtype=torch.long, device=device)
    live = torch.arange(n_rows, device=device)
    z_sum, w_sum = torch.zeros_like(z), torch.zeros_like(w)
    restart_z, restart_w = z.clone(), w.clone()
    restart_kkt = torch.full((n_rows,), torch.inf, dtype=dtype, device=device)
    last_kkt = restart_kkt.clone()
    since = torch.zeros(n_rows, dtype=dtype, device=device)
    for iteration in range(1, max_iter + 1):
        tau, sigma = (step / omega)[:, None], (step * omega)[:, None]
        z_next = (z - tau * (cost - B.adjoint(w))).clamp_(min=0.0)
        w = w + sigma * (target - B.forward(2.0 * z_next - z))
        z = z_next
        z_sum += z
        w_sum += w
        since += 1.0
        if iteration % check_every and iteration != max_iter:
            continue
        y = Y[live]
        z_mean, w_mean = z_sum / since[:, None], w_sum / since[:, None]
        errors = [torch.stack(_lp_kkt(B, zz, ww, y), dim=1) for zz, ww in
                  ((z, w), (z_mean, w_mean))]
        kkt = [error.norm(dim=1) for error in errors]
        use_average = kkt[1] < kkt[0]
        candidate_z = torch.where(use_average[:, None], z_mean, z)
        candidate_w = torch.where(use_average[:, None], w_mean, w)
        candidate_kkt = torch.minimum(kkt[0], kkt[1])
        best = torch.where(use_average[:, None], errors[1], errors[0])
        done = (best <= tol).all(dim=1)
        iterations[live] = iteration
        restart = ((candidate_kkt <= _SUFFICIENT * restart_kkt)
                   | ((candidate_kkt <= _NECESSARY * restart_kkt) & (candidate_kkt > last_kkt))
                   | (since >= _ARTIFICIAL * iteration))
        last_kkt = candidate_kkt
        if bool(restart.any()):
            dz = (candidate_z - restart_z).norm(dim=1)
            dw = (candidate_w - restart_w).norm(dim=1)
            rebalance = restart & (dz > 1e-10) & (dw > 1e-10)
            omega = torch.where(rebalance, torch.exp(0.5 * torch.log(dw.clamp(min=1e-300)
                                                                     / dz.clamp(min=1e-300))
                                                     + 0.5 * torch.log(omega)), omega)
            z = torch.where(restart[:, None], candidate_z, z)
            w = torch.where(restart[:, None], candidate_w, w)
            restart_z = torch.where(restart[:, None], z, restart_z)
            restart_w = torch.where(restart[:, None], w, restart_w)
            restart_kkt = torch.where(restart, candidate_kkt, restart_kkt)
            z_sum = torch.where(restart[:, None], 0.0, z_sum)
            w_sum = torch.where(restart[:, None], 0.0, w_sum)
            since = torch.where(restart, 0.0, since)
        if bool(done.any()):
            rows = live[done]
            out_z[rows], out_w[rows] = candidate_z[done], candidate_w[done]
            converged[rows] = True
            keep = ~done
            live = live[keep]
            if not len(live):
                break
            z, w, z_sum, w_sum = z[keep], w[keep], z_sum[keep], w_sum[keep]
            restart_z, restart_w, omega = restart_z[keep], restart_w[keep], omega[keep]
            restart_kkt, last_kkt, since = restart_kkt[keep], last_kkt[keep], since[keep]
            target = target[keep]
    if len(live):
        out_z[live], out_w[live] = z, w
    z = out_z * B.column_scale()
    w = out_w * B.row_scale
    original = _Original(B)
    fitted = original.forward(z)
    dual_max = original.adjoint(w).amax(dim=1).clamp(min=1.0)
    primal_cost = z.sum(dim=1)
    gap = (primal_cost - (fitted * w).sum(dim=1) / dual_max) / primal_cost.clamp(min=1e-300)
    residual = (fitted - Y).norm(dim=1) / Y.norm(dim=1).clamp(min=1e-300)
    return z, w, converged, gap, residual, iterations


def fista_lasso(A, Y, alpha, *, positive, x0=None, tol=1e-9, max_iter=20000, check_every=16):
    """FISTA with adaptive restarts for ``min 1/2 ||y - A x||^2 + alpha ||x||_1``.

    Parameters
    ----------
    A : tensor of shape (m, d), float64
    Y : tensor of shape (rows, m)
    alpha : tensor of shape (rows,)
    positive : bool
    x0 : tensor of shape (rows, d), optional
    tol : float
        Relative duality gap at which a row stops.

    Returns
    -------
    x : tensor of shape (rows, d)
    converged : bool tensor
    gap : tensor
        Relative duality gap ``(P - D) / P``.
    """
    lipschitz = _spectral_norm(A) ** 2
    step = 1.0 / lipschitz
    threshold = (alpha * step)[:, None]
    x = torch.zeros(len(Y), A.shape[1], dtype=A.dtype, device=A.device) if x0 is None \
        else x0.clone()
    momentum_point, t = x.clone(), torch.ones(len(Y), dtype=A.dtype, device=A.device)
    gap = torch.full((len(Y),), torch.inf, dtype=A.dtype, device=A.device)
    for iteration in range(1, max_iter + 1):
        gradient = (momentum_point @ A.T - Y) @ A
        moved = momentum_point - step * gradient
        x_next = ((moved - threshold).clamp(min=0.0) if positive
                  else torch.sign(moved) * (moved.abs() - threshold).clamp(min=0.0))
        t_next = 0.5 * (1.0 + torch.sqrt(1.0 + 4.0 * t * t))
        # Restart the momentum where it points uphill.
        uphill = ((momentum_point - x_next) * (x_next - x)).sum(dim=1) > 0
        t_next = torch.where(uphill, torch.ones_like(t_next), t_next)
        weight = torch.where(uphill, 0.0, (t - 1.0) / t_next)[:, None]
        momentum_point = x_next + weight * (x_next - x)
        x, t = x_next, t_next
        if iteration % check_every == 0 or iteration == max_iter:
            gap = lasso_gap(A, Y, alpha, x, positive)
            if bool((gap <= tol).all()):
                break
    return x, gap <= tol, gap


def lasso_gap(A, Y, alpha, x, positive):
    """Relative duality gap of the lasso at ``x`` (the dual point: the residual scaled)."""
    residual = Y - x @ A.T
    correlation = residual @ A
    top = correlation.amax(dim=1) if positive else correlation.abs().amax(dim=1)
    theta = residual * torch.clamp(alpha / top.clamp(min=1e-300), max=1.0)[:, None]
    primal = 0.5 * (residual * residual).sum(dim=1) + alpha * x.abs().sum(dim=1)
    dual = (Y * theta).sum(dim=1) - 0.5 * (theta * theta).sum(dim=1)
    return (primal - dual).clamp(min=0.0) / primal.clamp(min=1e-300)
