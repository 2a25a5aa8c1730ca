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
    state = _PDHGRows(z, w, omega, target)
    step = 0.95 / B.norm
    out_z, out_w = z.clone(), w.clone()
    converged = torch.zeros(n_rows, dtype=torch.bool, device=device)
    iterations = torch.zeros(n_rows, dtype=torch.long, device=device)
    live = torch.arange(n_rows, device=device)
    for iteration in range(1, max_iter + 1):
        state.iterate(B, cost, step)
        if iteration % check_every and iteration != max_iter:
            continue
        candidate_z, candidate_w, candidate_kkt, done = state.candidate(B, Y[live], tol)
        iterations[live] = iteration
        state.restart_where_due(candidate_z, candidate_w, candidate_kkt, iteration)
        if bool(done.any()):
            rows = live[done]
            out_z[rows], out_w[rows] = candidate_z[done], candidate_w[done]
            converged[rows] = True
            live = live[~done]
            if not len(live):
                break
            state.keep(~done)
    if len(live):
        out_z[live], out_w[live] = state.z, state.w
    z = out_z * B.column_scale()
    w = out_w * B.row_scale
    gap, residual = _lp_certificate(B, z, w, Y)
    return z, w, converged, gap, residual, iterations


class _PDHGRows:
    """The per-row state of restarted PDHG on the rows still running (scaled variables)."""

    def __init__(self, z, w, omega, target):
        self.z, self.w, self.omega, self.target = z, w, omega, target
        self.z_sum, self.w_sum = torch.zeros_like(z), torch.zeros_like(w)
        self.restart_z, self.restart_w = z.clone(), w.clone()
        self.restart_kkt = torch.full((len(z),), torch.inf, dtype=z.dtype, device=z.device)
        self.last_kkt = self.restart_kkt.clone()
        self.since = torch.zeros(len(z), dtype=z.dtype, device=z.device)

    def iterate(self, B, cost, step):
        """One PDHG step with primal weight ``omega``; the running sums for the average."""
        tau, sigma = (step / self.omega)[:, None], (step * self.omega)[:, None]
        z_next = (self.z - tau * (cost - B.adjoint(self.w))).clamp_(min=0.0)
        self.w = self.w + sigma * (self.target - B.forward(2.0 * z_next - self.z))
        self.z = z_next
        self.z_sum += self.z
        self.w_sum += self.w
        self.since += 1.0

    def candidate(self, B, y, tol):
        """The current or the average iterate, whichever has the smaller KKT error.

        Returns its ``z``, ``w``, KKT error and whether it meets ``tol``.
        """
        z_mean, w_mean = self.z_sum / self.since[:, None], self.w_sum / self.since[:, None]
        errors = [torch.stack(_lp_kkt(B, zz, ww, y), dim=1) for zz, ww in
                  ((self.z, self.w), (z_mean, w_mean))]
        kkt = [error.norm(dim=1) for error in errors]
        use_average = kkt[1] < kkt[0]
        candidate_z = torch.where(use_average[:, None], z_mean, self.z)
        candidate_w = torch.where(use_average[:, None], w_mean, self.w)
        best = torch.where(use_average[:, None], errors[1], errors[0])
        return candidate_z, candidate_w, torch.minimum(kkt[0], kkt[1]), (best <= tol).all(dim=1)

    def restart_where_due(self, candidate_z, candidate_w, candidate_kkt, iteration):
        """PDLP's restart criteria; a restart rebalances the primal weight."""
        restart = ((candidate_kkt <= _SUFFICIENT * self.restart_kkt)
                   | ((candidate_kkt <= _NECESSARY * self.restart_kkt)
                      & (candidate_kkt > self.last_kkt))
                   | (self.since >= _ARTIFICIAL * iteration))
        self.last_kkt = candidate_kkt
        if not bool(restart.any()):
            return
        dz = (candidate_z - self.restart_z).norm(dim=1)
        dw = (candidate_w - self.restart_w).norm(dim=1)
        rebalance = restart & (dz > 1e-10) & (dw > 1e-10)
        self.omega = torch.where(rebalance, torch.exp(0.5 * torch.log(dw.clamp(min=1e-300)
                                                                      / dz.clamp(min=1e-300))
                                                      + 0.5 * torch.log(self.omega)), self.omega)
        rows = restart[:, None]
        self.z = torch.where(rows, candidate_z, self.z)
        self.w = torch.where(rows, candidate_w, self.w)
        self.restart_z = torch.where(rows, self.z, self.restart_z)
        self.restart_w = torch.where(rows, self.w, self.restart_w)
        self.restart_kkt = torch.where(restart, candidate_kkt, self.restart_kkt)
        self.z_sum = torch.where(rows, 0.0, self.z_sum)
        self.w_sum = torch.where(rows, 0.0, self.w_sum)
        self.since = torch.where(restart, 0.0, self.since)

    def keep(self, rows):
        """Drop the rows that are done."""
        for name in ("z", "w", "z_sum", "w_sum", "restart_z", "restart_w", "omega",
                     "restart_kkt", "last_kkt", "since", "target"):
            setattr(self, name, getattr(self, name)[rows])


def _lp_certificate(B, z, w, Y):
    """Relative duality gap and residual of the original-scale ``z``, ``w`` (see pdhg_lp)."""
    original = _Original(B)
    fitted = original.forward(z)
    dual_max = original.adjoint(w).amax(dim=1).clamp(min=1.0)
    primal_cost = z.sum(dim=1)
    gap = (primal_cost - (fitted * w).sum(dim=1) / dual_max) / primal_cost.clamp(min=1e-300)
    residual = (fitted - Y).norm(dim=1) / Y.norm(dim=1).clamp(min=1e-300)
    return gap, residual


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
