"""The batched decoders: homotopy, certificates, first-order fallback, for many rows.

Every row is either returned with a certificate of its problem
(``_certificates.py``) or handed back uncertified (the caller solves those one
by one), so the answers are those of the problem, up to the stated
tolerances, whatever the path achieves:

1. the homotopy (``_homotopy.py``) with correlations in float32, every
   answer solved and certified in float64;
2. rows it could not certify: the homotopy again with float64 correlations;
3. rows still without a certificate: the first-order methods
   (``_first_order.py``), warm-started from the path's last iterate; their
   answers are certified exactly when a float64 solve on their support
   passes the certificate, and otherwise by their duality gap, at most
   ``FIRST_ORDER_TOL``.

Rows are split into chunks that run through joblib (CPU), each a stream of
rows through one batch of fixed size.
"""

import collections
import warnings

import numpy as np
import torch
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.utils import gen_even_slices

from ..exceptions import DeviceFallbackWarning
from ..utils._device import inference_device
from ..utils._threads import limit_torch_threads
from . import _first_order
from ._certificates import certify
from ._homotopy import follow_paths
from ._noise import ROUNDING_ULPS, noise_alpha
from ._paths import PathProblem, resize_slots

#: Relative duality gap of the first-order certificates.
FIRST_ORDER_TOL = 1e-6
#: Dual feasibility and duality gap tolerance of the homotopy's certificates.
CERTIFICATE_TOL = 1e-9
#: Primal feasibility of a certified exact answer, relative to ``||y||_inf``:
#: at least this, and ``PRIMAL_ULPS`` units of the measurements' precision.
PRIMAL_TOL = 1e-11
PRIMAL_ULPS = 64
#: Coefficients at most ``DROP_ULPS`` units of precision times the largest,
#: next to a nonpositive one, are the path's end on a face.
DROP_ULPS = 64
#: Elements of one batch's (rows x columns) arrays on a CPU and on a GPU.
_BATCH_ELEMENTS = 2**22
_BATCH_ELEMENTS_GPU = 2**26
#: Matrices at least this large (m d) follow their paths with float32 correlations.
_LOW_PRECISION_SIZE = 2**20
#: Bytes for one batch's active sets (columns and factors) once they grow to m.
_ACTIVE_SET_BYTES = 2**29

METHODS = ("", "homotopy", "first-order", "highs", "lars")


def batched_decode(A, Y, *, kind, positive, lam_stop, eps, precision, device="cpu",
                   n_jobs=None, path_dtype=None, max_steps=None, first_order=True):
    """Decode the rows of ``Y`` with certificates; see the module docstring.

    Parameters
    ----------
    A : ndarray of shape (m, d), float64
    Y : ndarray of shape (n, m), float64
    kind : {"exact", "lasso", "bpdn"}
    positive : bool
    lam_stop : ndarray of shape (n,)
        Where the path stops: the lasso's ``alpha``, or for exact l1-min the
        rounding level of the measurements.
    eps : ndarray of shape (n,) or None
        BPDN's bound.
    precision : float
        Unit roundoff of the measurements as given (float32: 1.2e-7).
    device : str or torch.device
    n_jobs : int or None
    path_dtype : torch.dtype, optional
        Correlations of the first pass: float32 where the product ``B'u``
        dominates a step (``m d >= 2^20``), float64 below (where a step's cost
        is its bookkeeping, and float64 needs no second look near the end).
    max_steps : int, optional
        Breakpoints before a row is handed back (default ``8 m + 20``).
    first_order : bool
        Run the first-order fallback on the rows the homotopy did not certify.

    Returns
    -------
    result : dict
        ``X`` (NaN where uncertified, the nearest fit where infeasible),
        ``certified``, ``infeasible`` (bool), ``method`` (index into
        ``METHODS``), ``gap`` (relative duality gap), ``steps``.
    """
    device = inference_device(device)
    if device.type not in ("cpu", "cuda"):
        warnings.warn(f"the batched l1 decoder needs float64, which {device.type} does not "
                      "support; running it on the CPU.", DeviceFallbackWarning, stacklevel=3)
        device = torch.device("cpu")
    n_samples = len(Y)
    on_gpu = device.type == "cuda"
    n_chunks = 1 if on_gpu else max(1, min(n_samples, effective_n_jobs(n_jobs)))
    options = {"kind": kind, "positive": positive, "precision": precision,
               "device": str(device),
               "path_dtype": path_dtype or (torch.float32 if A.size >= _LOW_PRECISION_SIZE
                                            else torch.float64),
               "max_steps": max_steps or 8 * A.shape[0] + 20, "first_order": first_order}
    slices = list(gen_even_slices(n_samples, n_chunks)) if n_samples else []
    parts = Parallel(n_jobs=None if on_gpu else n_jobs)(
        delayed(_decode_chunk)(A, Y[rows], lam_stop[rows], None if eps is None else eps[rows],
                               **options)
        for rows in slices)
    if not parts:
        return {"X": np.empty((0, A.shape[1])), "certified": np.zeros(0, bool),
                "infeasible": np.zeros(0, bool), "method": np.zeros(0, int),
                "gap": np.zeros(0), "steps": np.zeros(0, int)}
    if len(parts) == 1:
        return parts[0]
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


@limit_torch_threads
def _decode_chunk(A, Y, lam_stop, eps, *, kind, positive, precision, device, path_dtype,
                  max_steps, first_order):
    # On a dask worker without the GPU the caller saw: the CPU, with a warning.
    device = inference_device(device)
    run = _Run(A, Y, lam_stop, eps, kind=kind, positive=positive, precision=precision,
               device=device)
    rest = run.homotopy(np.arange(len(Y)), path_dtype, max_steps)
    if len(rest) and path_dtype != torch.float64:
        rest = run.homotopy(rest, torch.float64, max_steps)
    if len(rest) and first_order:
        run.first_order(rest)
    return run.result()


class _Run:
    """The outputs of one chunk, filled by the stages that certify rows."""

    def __init__(self, A, Y, lam_stop, eps, *, kind, positive, precision, device):
        n, d = len(Y), A.shape[1]
        self.kind, self.positive, self.device = kind, positive, device
        self.A = torch.as_tensor(A, dtype=torch.float64, device=device)
        self.Y = torch.as_tensor(Y, dtype=torch.float64, device=device)
        self.lam_stop = torch.as_tensor(lam_stop, dtype=torch.float64, device=device)
        self.eps_sq = (torch.zeros(n, dtype=torch.float64, device=device) if eps is None
                       else torch.as_tensor(eps, dtype=torch.float64, device=device) ** 2)
        self.precision = torch.full((n,), precision, dtype=torch.float64, device=device)
        self.column_norm = float(self.A.norm(dim=0).max()) if A.size else 0.0
        # Zeros are allocated lazily, so only rows that get solved are written.
        self.X = np.zeros((n, d))
        self.certified = np.zeros(n, dtype=bool)
        self.infeasible = np.zeros(n, dtype=bool)
        self.method = np.zeros(n, dtype=int)
        self.gap = np.full(n, np.nan)
        self.steps = np.full(n, -1)
        self.warm = {}  # the last iterate of rows handed back: row -> (index, sign, coef, lam)

    def result(self):
        unsolved = ~(self.certified | self.infeasible | (self.method != 0))
        self.X[unsolved] = np.nan
        return {"X": self.X, "certified": self.certified, "infeasible": self.infeasible,
                "method": self.method, "gap": self.gap, "steps": self.steps}

    def _batch_rows(self, problem):
        budget = _BATCH_ELEMENTS_GPU if self.device.type == "cuda" else _BATCH_ELEMENTS
        rows = max(8, min(1024, budget // (problem.d + 1)))
        # Rows whose active sets reach m columns hold (m + m) x m floats each.
        return max(8, min(rows, _ACTIVE_SET_BYTES // (16 * problem.m * problem.m)))

    def _tolerances(self, ids):
        """Per-row primal and face-drop tolerances, from the rows' precision."""
        precision = self.precision[ids]
        return (torch.clamp(PRIMAL_ULPS * precision, min=PRIMAL_TOL), DROP_ULPS * precision)

    # -------------------------------------------------------------- stages
    def homotopy(self, rows, path_dtype, max_steps):
        """Follow the paths of ``rows``; returns the rows left without a certificate."""
        problem = PathProblem(self.A, positive=self.positive, path_dtype=path_dtype,
                              kind=self.kind)
        batch_rows = self._batch_rows(problem)
        queue = collections.deque(int(row) for row in rows)
        # Certified in groups: large enough for one wide product, small enough
        # that a row queued again is not left for a tail of its own.
        group = max(16, batch_rows // 8)
        pending, pending_rows = [], 0
        left = []
        for status, state in follow_paths(problem, self.Y, self.lam_stop, self.eps_sq, queue,
                                          batch_rows=batch_rows, max_steps=max_steps):
            if status == "drained":
                if pending:
                    left += self._certify(problem, pending, queue)
                    pending, pending_rows = [], 0
                continue
            chosen = state["ids"].cpu().numpy()
            if status in ("zero", "separated"):
                self.X[chosen] = 0.0
                self.steps[chosen] = 0
                self.gap[chosen] = 0.0
                self.method[chosen] = METHODS.index("homotopy")
                (self.certified if status == "zero" else self.infeasible)[chosen] = True
            elif status == "ended":
                pending.append(state)
                pending_rows += len(chosen)
                if pending_rows >= group:
                    left += self._certify(problem, pending, queue)
                    pending, pending_rows = [], 0
            else:
                self._keep_warm(state)
                left += chosen.tolist()
        return np.array(sorted(set(left) - set(np.flatnonzero(self.certified).tolist())),
                        dtype=int)

    def _project(self, ids, projection):
        """Decode ``y' = B z`` instead of low-precision ``y``, from the start.

        A row of low-precision measurements whose path stopped where their
        rounding begins, on a face whose dual is not feasible (its LP
        solution is not sparse: columns nearly tied with the active ones wait
        below the rounding), has an answer that fits ``y`` to its rounding:
        the row decodes ``y' = B z``, the projection of ``y`` onto those
        columns, exactly, as float64 measurements. (Going on from the stop
        with ``y`` itself would fit the rounding: a longer path to a denser
        answer.)
        """
        self.Y[ids] = projection
        self.precision[ids] = float(np.finfo(np.float64).eps)
        rms = projection.pow(2).mean(dim=1).sqrt()
        self.lam_stop[ids] = torch.as_tensor(
            noise_alpha(self.A.cpu().numpy(), (ROUNDING_ULPS * self.precision[ids] * rms)
                        .cpu().numpy(), self.positive), dtype=torch.float64, device=self.device)

    def _keep_warm(self, state):
        for k, row in enumerate(state["ids"].tolist()):
            used = state["used"][k]
            self.warm[row] = (state["index"][k][used], state["sign"][k][used],
                              state["coef"][k][used], state["lam"][k])

    def _certify(self, problem, states, queue):
        """Certify finished paths; returns the rows that failed (or queues them again)."""
        state = _stack_states(states, problem.d)
        primal_tol, drop_tol = self._tolerances(state["ids"])
        z, ok, separated, gap, fits = certify(
            problem, state, tol=CERTIFICATE_TOL, primal_tol=primal_tol, drop_tol=drop_tol,
            column_norm=self.column_norm)
        self._store(state["ids"], state["index"], state["sign"] * z, ok, separated, gap,
                    "homotopy", state["steps"])
        failed = ~(ok | separated)
        rounded = failed & fits & (self.precision[state["ids"]] > 1e-10)
        if bool(rounded.any()):
            cols = problem.signed_columns(state["index"][rounded], state["sign"][rounded])
            self._project(state["ids"][rounded], torch.bmm(z[rounded][:, None, :], cols)[:, 0])
            queue.extend(state["ids"][rounded].tolist())
            failed &= ~rounded
        if bool(failed.any()):
            chosen = {key: value[failed] for key, value in state.items()}
            self._keep_warm(chosen)
            return chosen["ids"].cpu().numpy().tolist()
        return []

    def _store(self, ids, index, values, ok, separated, gap, method, steps=None):
        d = self.A.shape[1]
        dense = torch.zeros(len(ids), d + 1, dtype=torch.float64, device=self.device)
        dense.scatter_add_(1, index, values)
        keep = ok | separated
        rows = ids[keep].cpu().numpy()
        self.X[rows] = dense[keep, :d].cpu().numpy()
        self.certified[rows] = ok[keep].cpu().numpy()
        self.infeasible[rows] = separated[keep].cpu().numpy()
        self.gap[rows] = gap[keep].cpu().numpy()
        self.method[rows] = METHODS.index(method)
        if steps is not None:
            self.steps[rows] = steps[keep].cpu().numpy()

    def first_order(self, rows):
        """PDHG (exact l1-min) or FISTA (lasso), warm-started, on ``rows``."""
        if self.kind == "bpdn":
            return
        ids = torch.as_tensor(rows, device=self.device)
        y = self.Y[ids]
        d = self.A.shape[1]
        x0 = torch.zeros(len(rows), d + 1, dtype=torch.float64, device=self.device)
        lam = torch.zeros(len(rows), dtype=torch.float64, device=self.device)
        for k, row in enumerate(rows):
            if row in self.warm:
                index, sign, coef, lam[k] = self.warm[row]
                x0[k].scatter_add_(0, index, sign * coef)
        x0 = x0[:, :d]
        if self.kind == "lasso":
            alpha = self.lam_stop[ids]
            x, converged, gap = _first_order.fista_lasso(self.A, y, alpha, positive=self.positive,
                                                         x0=x0, tol=FIRST_ORDER_TOL)
            self._cross_over(ids, x, converged, gap, lam=alpha)
            return
        z0 = x0.clamp(min=0.0) if self.positive else torch.cat([x0.clamp(min=0.0),
                                                                 (-x0).clamp(min=0.0)], dim=1)
        residual = y - x0 @ self.A.T
        w0 = residual / lam.clamp(min=1e-300)[:, None]
        z, w, converged, gap, _, _ = _first_order.pdhg_lp(
            self.A, y, positive=self.positive, z0=z0, w0=w0, tol=FIRST_ORDER_TOL)
        x = z if self.positive else z[:, :d] - z[:, d:]
        self._cross_over(ids, x, converged & (gap <= FIRST_ORDER_TOL), gap, dual=w)

    def _cross_over(self, ids, x, converged, gap, lam=None, dual=None):
        """Certify first-order answers exactly on their support where possible, else by gap."""
        problem = PathProblem(self.A, positive=self.positive, path_dtype=torch.float64,
                              kind=self.kind)
        largest = x.abs().amax(dim=1, keepdim=True)
        support = x.abs() > 1e-9 * largest
        size = int(support.sum(dim=1).max()) if len(x) else 0
        order = torch.argsort((~support).to(torch.int8), dim=1, stable=True)[:, :max(size, 1)]
        used = support.gather(1, order)
        n = len(ids)
        state = {
            "ids": ids, "y": self.Y[ids], "used": used,
            "index": torch.where(used, order, problem.d),
            "sign": torch.where(used, torch.sign(x.gather(1, order)), 1.0),
            "vanishing": torch.zeros_like(used),
            "lam": torch.zeros(n, dtype=torch.float64, device=self.device) if lam is None else lam,
            "lam_start": torch.ones(n, dtype=torch.float64, device=self.device),
            "eps_sq": self.eps_sq[ids],
        }
        if lam is not None:
            top = (self.Y[ids] @ self.A)
            state["lam_start"] = top.amax(dim=1) if self.positive else top.abs().amax(dim=1)
        primal_tol, drop_tol = self._tolerances(ids)
        z, ok, separated, exact_gap, _ = certify(
            problem, state, tol=CERTIFICATE_TOL, primal_tol=primal_tol, drop_tol=drop_tol,
            column_norm=self.column_norm, dual=dual)
        self._store(ids, state["index"], state["sign"] * z, ok, separated & ~ok, exact_gap,
                    "first-order")
        by_gap = converged & ~(ok | separated)
        if bool(by_gap.any()):
            rows = ids[by_gap].cpu().numpy()
            self.X[rows] = x[by_gap].cpu().numpy()
            self.certified[rows] = True
            self.gap[rows] = gap[by_gap].cpu().numpy()
            self.method[rows] = METHODS.index("first-order")


def _stack_states(states, d):
    """One state dict from several, their slots padded to the largest."""
    slots = max(state["index"].shape[1] for state in states)
    padded = [resize_slots(state, slots, d) for state in states]
    return {key: torch.cat([state[key] for state in padded]) for key in padded[0]}
