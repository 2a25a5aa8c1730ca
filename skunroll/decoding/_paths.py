"""A batch of homotopy paths: the state of each row's path and one breakpoint step.

See ``_homotopy.py`` for the algorithm. A :class:`PathBatch` holds the rows of
one tier (active sets of at most ``max_size`` columns); a step is split in
two, :meth:`PathBatch.prepare` (the direction of each path, ``u = B_S d``)
and :meth:`PathBatch.advance` (given ``B'u`` for every column: the next
breakpoint, and the active set updated there), so that the tiers of a
homotopy share one matrix product per step.
"""

import torch

from . import _cholesky

#: Steps between recomputations of the correlations from the float64 residual.
REFRESH_EVERY = 8
#: Events within this fraction of lam of the path's end are the end.
_END_TIE = 1e-9
#: Coefficients at most this fraction of the largest at the end of the path
#: are zero there up to rounding.
_VANISHING = 1e-12
#: A new column whose squared distance from the span of the active ones is
#: below this fraction of its squared norm makes them dependent.
_MIN_PIVOT = 1e-12


class PathProblem:
    """The matrix and the problem kind, shared by every batch.

    Parameters
    ----------
    A : tensor of shape (m, d), float64
    positive : bool
    path_dtype : torch.dtype
    kind : {"exact", "lasso", "bpdn"}
    """

    def __init__(self, A, *, positive, path_dtype, kind):
        self.A = A
        self.m, self.d = A.shape
        self.positive = positive
        self.kind = kind
        self.path_dtype = path_dtype
        # A zero column at index d: free slots of the active set point at it.
        self.A_path = torch.nn.functional.pad(A, (0, 1)).to(path_dtype)
        # Column j of A as row j, and the zero column d.
        self.columns = torch.nn.functional.pad(A, (0, 1)).T.contiguous()
        self.device = A.device
        precision = torch.finfo(path_dtype).eps
        # An event this close to the path's end (relative to the path's scale,
        # in float64) is the end. Joins come from correlations in path_dtype:
        # those within its rounding of the end count as the end too, and for
        # exact l1-min, whose last segment ends at 0 where every column's join
        # ties with the end in exact arithmetic (c_j = lam a_j there), within a
        # wider band. The certificate decides such ends.
        self.end_slack = 1e-11
        low_precision = precision > 1e-10
        self.end_band = (0.0 if not low_precision else 1e-3 if kind == "exact"
                         else 64 * precision)

    def signed_columns(self, index, sign):
        """``sign * A[:, index]`` as rows, for index tensors of any shape."""
        return self.columns[index] * sign[..., None]


class PathBatch:
    """The state of the paths of a batch of rows (all tensors have the rows first).

    Per row: ``ids`` (row number in the caller's array), ``y``, ``lam`` (and
    where it started and stops), ``eps_sq`` (BPDN), ``corr`` (``A'r`` in
    ``path_dtype``, with the zero column last), ``top`` (one past the last
    slot in use), ``banned`` (the column that just left) and ``steps``. Per
    row and slot: ``used``, ``index``, ``sign``, ``coef``, ``projection``
    (``B_j'y``), ``vanishing``, ``cols`` (the columns) and ``chol`` (the
    Cholesky factor of their Gram matrix, identity in the free slots). A
    column that leaves frees its slot where it is; new columns take the slot
    after the last one in use, and a row whose slots run out is compacted.
    """

    _ROW_STATE = ("ids", "y", "lam", "lam_start", "lam_stop", "eps_sq", "corr", "lam_fresh",
                  "top", "banned", "steps")
    _SLOT_STATE = ("used", "index", "sign", "coef", "projection", "vanishing", "cols", "chol")
    STATE = _ROW_STATE + _SLOT_STATE

    def __init__(self, problem, *, max_size):
        self.problem = problem
        self.max_size = min(max_size, problem.m)
        # More slots than columns: room for the holes that leavers leave.
        self.max_capacity = self.max_size + max(8, self.max_size // 8)
        self.capacity = min(8, self.max_capacity)
        # Every array has room for more rows than are live (``storage``), so that
        # rows enter without copying the others; ``state`` views the live rows.
        self.storage = None
        self.n_rows = 0
        self.state = None
        self._prepared = None

    def __len__(self):
        return self.n_rows

    def _view(self):
        self.state = ({name: value[:self.n_rows] for name, value in self.storage.items()}
                      if self.n_rows else None)

    def _reserve(self, n_rows, like):
        """Room for ``n_rows`` rows, arrays shaped like the state ``like``."""
        room = 0 if self.storage is None else len(self.storage["ids"])
        if n_rows <= room:
            return
        room = max(n_rows, 2 * room, 8)
        storage = {name: value.new_empty((room, *value.shape[1:])) for name, value in like.items()}
        if self.n_rows:
            for name, value in self.state.items():
                storage[name][:self.n_rows] = value
        self.storage = storage

    # ------------------------------------------------------------ admission
    def fresh_state(self, ids, y, lam_stop, eps_sq, corr, first, first_sign):
        """The state of rows whose path starts now (``corr = A'y`` in float64)."""
        p = self.problem
        n, f64, device = len(ids), torch.float64, p.device
        cols = p.signed_columns(first, first_sign)
        lam = corr.gather(1, first[:, None])[:, 0] * first_sign
        return {
            "ids": ids, "y": y, "lam": lam, "lam_start": lam.clone(), "lam_stop": lam_stop,
            "eps_sq": eps_sq, "corr": torch.nn.functional.pad(corr, (0, 1)).to(p.path_dtype),
            "lam_fresh": lam.clone(), "top": torch.ones(n, dtype=torch.long, device=device),
            "banned": torch.full((n,), -1, dtype=torch.long, device=device),
            "steps": torch.zeros(n, dtype=torch.long, device=device),
            "used": torch.ones(n, 1, dtype=torch.bool, device=device),
            "index": first[:, None], "sign": first_sign[:, None],
            "coef": torch.zeros(n, 1, dtype=f64, device=device),
            "projection": (cols * y).sum(dim=1, keepdim=True),
            "vanishing": torch.zeros(n, 1, dtype=torch.bool, device=device),
            "cols": cols[:, None, :], "chol": cols.norm(dim=1)[:, None, None],
        }

    def admit(self, state):
        """Add rows (a state dict with any number of slots up to ``max_capacity``)."""
        state = compact_slots(state)
        slots = int(state["top"].max())
        capacity = self.capacity
        while capacity < slots:
            capacity = min(self.max_capacity, 2 * capacity)
        if capacity != self.capacity:
            self._resize(capacity)
        state = resize_slots(state, self.capacity, self.problem.d)
        n_new = len(state["ids"])
        self._reserve(self.n_rows + n_new, state)
        for name in self.STATE:
            self.storage[name][self.n_rows:self.n_rows + n_new] = state[name]
        self.n_rows += n_new
        self._view()

    def take(self, rows):
        """Remove ``rows`` (a bool mask) and return their state.

        The rows at the end of the batch move into the freed places, so only
        as many rows are copied as leave.
        """
        chosen = torch.nonzero(rows).flatten()
        taken = {name: value[chosen] for name, value in self.state.items()}
        n_left = self.n_rows - len(chosen)
        holes = chosen[chosen < n_left]
        movers = torch.nonzero(~rows[n_left:]).flatten() + n_left
        if len(holes):
            for value in self.storage.values():
                value[holes] = value[movers]
        self.n_rows = n_left
        self._view()
        if n_left and self.capacity >= 16:
            largest = int(self.state["top"].max())
            if 4 * largest <= self.capacity:
                self._resize(max(8, 2 * largest))
        return taken

    def _resize(self, capacity):
        """Change the number of slots of every row (a copy of the live rows)."""
        self.capacity = capacity
        if not self.n_rows:
            self.storage = None
            return
        state = resize_slots(self.state, capacity, self.problem.d)
        self.storage, self.n_rows = None, 0
        self._reserve(len(state["ids"]), state)
        for name, value in state.items():
            self.storage[name][:len(value)] = value
        self.n_rows = len(state["ids"])
        self._view()

    # ---------------------------------------------------------------- steps
    def residual(self):
        st = self.state
        return st["y"] - torch.einsum("rs,rsm->rm", st["coef"], st["cols"])

    def prepare(self):
        """The first half of a step: each path's direction, ``u = B_S d``, and the
        breakpoints that need no correlations (a coefficient reaching zero, the end).

        Returns
        -------
        u : tensor of shape (rows, m), float64
            The caller computes ``B'u`` for every column, finds the next
            column to join each path (``_homotopy.join_search``) and hands both to
            :meth:`advance`.
        """
        p, st = self.problem, self.state
        valid = st["used"]
        # The direction d = G^-1 1 and G^-1 B_S'y, solved afresh at every step,
        # so that rounding in the breakpoints found by the correlations never
        # accumulates in the coefficients G^-1 (B_S'y - lam 1).
        mask = valid.to(torch.float64)
        solved = _cholesky.solve_gram(st["chol"], torch.stack([mask, mask * st["projection"]],
                                                               dim=2))
        direction, fit = solved[..., 0], solved[..., 1]
        coef = fit - st["lam"][:, None] * direction
        at_stop = fit - st["lam_stop"][:, None] * direction
        # Slots past the last one in use are free in every row: left out.
        width = max(1, int(st["top"].max()))
        u = torch.bmm(direction[:, None, :width], st["cols"][:, :width])[:, 0]
        leaving = valid & (direction < -1e-14 * direction.abs().amax(dim=1, keepdim=True))
        if p.kind != "bpdn":
            # A coefficient that is zero at lam_stop only up to rounding (solved
            # there directly, without cancellation) vanishes at the end of the
            # segment rather than leaving before it.
            leaving &= at_stop < -_VANISHING * at_stop.abs().amax(dim=1, keepdim=True)
        leave_gamma, leaver = torch.where(leaving, -coef / direction, torch.inf).min(dim=1)
        end_gamma = self._end_gamma(u, coef)
        # Events this close to the end are the end: a coefficient that the last
        # segment drives to zero exactly at its end (y on a face) reaches zero
        # there only up to the rounding of its cancellation.
        end = end_gamma - torch.maximum(p.end_slack * st["lam_start"], _END_TIE * st["lam"])
        self._prepared = {"direction": direction, "coef": coef, "u": u, "leave": leave_gamma,
                          "leaver": leaver, "end_gamma": end_gamma, "end": end}
        return u

    def join_inputs(self, width):
        """What ``join_search`` needs of every row, the slots padded to ``width``."""
        st, d = self.state, self.problem.d
        extra = width - self.capacity
        if not extra:
            return {name: st[name] for name in ("lam", "banned", "used", "sign", "index")}
        pad = torch.nn.functional.pad
        return {"lam": st["lam"], "banned": st["banned"],
                "used": pad(st["used"], (0, extra), value=False),
                "sign": pad(st["sign"], (0, extra), value=1.0),
                "index": pad(st["index"], (0, extra), value=d)}

    def exact_join_inputs(self, rows):
        """Float64 residuals and directions ``u`` of ``rows`` (before this step's move)."""
        st, prepared = self.state, self._prepared
        residual = st["y"][rows] - torch.bmm(prepared["coef"][rows, None, :],
                                             st["cols"][rows])[:, 0]
        return residual, prepared["u"][rows]

    def advance(self, slope, join_gamma, joiner, joiner_sign):
        """The second half of a step: move every row to its next breakpoint.

        Parameters
        ----------
        slope : tensor of shape (rows, d + 1), path_dtype
            ``B'u`` for the ``u`` of :meth:`prepare` (its zero column last).
        join_gamma, joiner, joiner_sign : tensors of shape (rows,)
            The next column to join each path (``_homotopy.join_search``).

        Returns
        -------
        ended : bool tensor
            Rows whose path reached its end (to be certified).
        broken : bool tensor
            Rows whose next column is dependent on the active ones.
        outgrown : bool tensor
            Rows whose next column would take them past ``max_size``
            columns (not added: it joins at once when the row resumes in a
            larger tier).
        """
        p, st, prepared = self.problem, self.state, self._prepared
        direction, coef = prepared["direction"], prepared["coef"]
        leave_gamma, leaver = prepared["leave"], prepared["leaver"]
        valid = st["used"]
        size = valid.sum(dim=1)
        join_gamma = torch.where(size >= p.m, torch.inf, join_gamma)
        ended = torch.minimum(join_gamma, leave_gamma) >= prepared["end"]
        gamma = torch.where(ended, prepared["end_gamma"], torch.minimum(join_gamma, leave_gamma))
        joins = ~ended & (join_gamma <= leave_gamma)
        leaves = ~ended & ~joins

        # In place: the state views the batch's storage.
        moved = gamma[:, None] * direction
        st["coef"].copy_(coef + moved).mul_(valid)
        st["corr"].addcmul_(slope, gamma.to(p.path_dtype)[:, None], value=-1.0)
        st["lam"].sub_(gamma)
        st["steps"] += 1
        # Coefficients the last segment drives to zero exactly at its end (y on a
        # lower-dimensional face) end as rounding noise: recognised by cancellation.
        st["vanishing"].copy_(valid & (st["coef"].abs() <= 1e-9 * (coef.abs() + moved.abs())))
        left = leaver[:, None]
        leaver_code = self._code(st["index"].gather(1, left)[:, 0],
                                 st["sign"].gather(1, left)[:, 0])
        st["banned"].copy_(torch.where(leaves, leaver_code, -1))
        if bool(leaves.any()):
            self._free(torch.nonzero(leaves).flatten(), leaver[leaves])
        broken = torch.zeros_like(ended)
        outgrown = joins & (size >= self.max_size) & (size < p.m)
        joins = joins & ~outgrown
        if bool(joins.any()):
            rows = torch.nonzero(joins).flatten()
            broken[rows] = self._append(rows, joiner[rows], joiner_sign[rows])
        self._prepared = None
        return ended, broken, outgrown

    def stale_rows(self, every):
        """Rows whose correlations are due to be recomputed from the float64 residual.

        Their rounding grows with the size of the updates since they were last
        computed: all rows when ``every`` (every ``REFRESH_EVERY`` steps), and a
        row whose lam has halved since (near the end of a path lam falls by
        orders of magnitude).
        """
        st = self.state
        if every:
            return torch.arange(len(self), device=self.problem.device)
        return torch.nonzero(st["lam"] < 0.5 * st["lam_fresh"]).flatten()

    def residual_of(self, rows):
        """Float64 residuals of ``rows`` (at this step's start, once prepared)."""
        st = self.state
        coef = st["coef"] if self._prepared is None else self._prepared["coef"]
        return st["y"][rows] - torch.bmm(coef[rows, None, :], st["cols"][rows])[:, 0]

    def set_correlations(self, rows, corr):
        self.state["corr"][rows] = corr.to(self.state["corr"].dtype)
        self.state["lam_fresh"][rows] = self.state["lam"][rows]

    def _code(self, column, sign):
        """One index per signed column, for the rule that a leaver may not rejoin at once."""
        return column + (self.problem.d + 1) * (sign < 0).long()

    def _end_gamma(self, u, coef):
        st = self.state
        end = st["lam"] - st["lam_stop"]
        if self.problem.kind != "bpdn":
            return end
        # The residual r - gamma u reaches norm eps: the smaller root of
        # ||u||^2 g^2 - 2 (r'u) g + ||r||^2 - eps^2 = 0.
        r = st["y"] - torch.einsum("rs,rsm->rm", coef, st["cols"])
        a, b = (u * u).sum(dim=1), (r * u).sum(dim=1)
        c = (r * r).sum(dim=1) - st["eps_sq"]
        disc = b * b - a * c
        root = c / (b + disc.clamp(min=0.0).sqrt())  # = (b - sqrt(disc)) / a, stably
        return torch.where((disc >= 0) & (b > 0), torch.minimum(root, end), end)

    def _free(self, rows, slot):
        st = self.state
        _cholesky.delete(st["chol"], rows, slot)
        for name in ("used", "index", "sign", "coef", "projection", "vanishing", "cols"):
            st[name][rows, slot] = _FILL[name](self.problem.d)

    def _append(self, rows, column, sign):
        """Add a column to the active sets of ``rows``; returns the rows it made dependent."""
        st = self.state
        full = st["top"][rows] >= self.capacity
        if bool(full.any()):
            size = st["used"][rows].sum(dim=1)
            if self.capacity < self.max_capacity and bool((4 * size > 3 * self.capacity).any()):
                self._resize(min(self.max_capacity, 2 * self.capacity))
            else:
                self._compact(rows[full])
            st = self.state  # a resize makes new arrays
        slot = st["top"][rows]
        new = self.problem.signed_columns(column, sign)
        # Inner products with every row's columns (most rows join): no gathered copy.
        width = max(1, int(st["top"].max()))
        every = torch.zeros(len(self), self.problem.m, dtype=new.dtype, device=new.device)
        every[rows] = new
        cross = torch.nn.functional.pad(torch.bmm(st["cols"][:, :width], every[:, :, None]),
                                        (0, 0, 0, self.capacity - width))[rows, :, 0]
        self_product = (new * new).sum(dim=1)
        pivot_squared = _cholesky.append(st["chol"], rows, slot, cross, self_product)
        st["used"][rows, slot] = True
        st["index"][rows, slot] = column
        st["sign"][rows, slot] = sign
        st["coef"][rows, slot] = 0.0
        st["projection"][rows, slot] = (new * st["y"][rows]).sum(dim=1)
        st["vanishing"][rows, slot] = False
        st["cols"][rows, slot] = new
        st["top"][rows] += 1
        return pivot_squared <= _MIN_PIVOT * self_product

    def _compact(self, rows):
        part = compact_slots({name: self.state[name][rows]
                              for name in (*self._SLOT_STATE, "top")})
        for name, value in part.items():
            self.state[name][rows] = value


#: What free slots hold (the zero column d for ``index``).
_FILL = {"used": lambda d: False, "index": lambda d: d, "sign": lambda d: 1.0,
         "coef": lambda d: 0.0, "projection": lambda d: 0.0, "vanishing": lambda d: False,
         "cols": lambda d: 0.0}


def compact_slots(state):
    """The state with each row's slots in use moved to the front, in their order."""
    used = state["used"]
    if bool((state["top"] == used.sum(dim=1)).all()):
        return state
    state = dict(state)
    order = torch.argsort((~used).to(torch.int8), dim=1, stable=True)
    for name in ("used", "index", "sign", "coef", "projection", "vanishing"):
        state[name] = state[name].gather(1, order)
    m = state["cols"].shape[2]
    state["cols"] = state["cols"].gather(1, order[:, :, None].expand(-1, -1, m))
    state["chol"] = _cholesky.compact(state["chol"], order)
    state["top"] = used.sum(dim=1)
    return state


def resize_slots(state, capacity, d):
    """The state with ``capacity`` slots per row (free slots padded, or cut off)."""
    slots = state["index"].shape[1]
    if slots == capacity:
        return state
    state = dict(state)
    if capacity < slots:
        for name in ("used", "index", "sign", "coef", "projection", "vanishing", "cols"):
            state[name] = state[name][:, :capacity]
        state["chol"] = state["chol"][:, :capacity, :capacity]
        return state
    extra = capacity - slots
    pad = torch.nn.functional.pad
    for name in ("used", "index", "sign", "coef", "projection", "vanishing"):
        state[name] = pad(state[name], (0, extra), value=_FILL[name](d))
    state["cols"] = pad(state["cols"], (0, 0, 0, extra))
    state["chol"] = _cholesky.grow(state["chol"], capacity)
    return state
