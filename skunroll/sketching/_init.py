"""Initial CountSketch positions and values.

``random_countsketch``: the classical sketch (a random hash and random signs).
``inner_product_countsketch``: the "inner product" initialisation of Li et al.
(ICLR 2023, Algorithm 3), which chooses positions from the training data:
on the average training matrix, sample ``m`` bucket heads by ridge leverage
scores, send every row to the head of largest absolute cosine similarity,
then set each bucket's values to the top left singular vector of its rows.
``greedy_countsketch``: positions and values together by a greedy search on
the Gram matrix ``G = sum_j A_j A_j^T`` of the training matrices (below).
``bucket_top_vectors``: each bucket's values in closed form for fixed
positions (the few-shot "one-shot" sketch when ``G`` comes from the top
singular vectors of a few training matrices).

Why the Gram matrix. A CountSketch row ``b`` adds the rows ``a_i`` of ``A`` in
its bucket ``B_b`` with weights ``v_i``, so ``S A``'s row ``b`` is
``v_b^T A[B_b]``. For a unit ``v_b``, ``v_b (v_b^T A[B_b])`` is a rank-one
approximation of the bucket's rows lying in the row space of ``S A``, hence

    ||A - A P_{SA}||_F^2  <=  sum_b ||A[B_b]||_F^2 - v_b^T A[B_b] A[B_b]^T v_b.

Summed over the training matrices the bound depends on ``G`` alone: the best
``v_b`` is the top eigenvector of ``G[B_b, B_b]`` and the best partition
maximises ``sum_b lambda_max(G[B_b, B_b])`` (a k-lines clustering of the
rows, shared by all matrices). Moving one row between two buckets changes
two principal submatrices by one row and column, and a 2 x 2 eigenproblem
gives a lower bound of the new top eigenvalue in closed form, so every
candidate bucket of a row is scored at once in O(n m) and the search only
accepts moves that raise the objective.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import svds
from sklearn.utils.extmath import randomized_svd

from ._scw import countsketch_matrix
from ._statistics import average_matrix, row_gram, top_subspace_gram


def random_countsketch(n, block_rows, rng):
    """Positions (n_blocks, n) and +-1 values for blocks of ``block_rows`` rows each."""
    positions, values = [], []
    offset = 0
    for rows in block_rows:
        positions.append(offset + rng.randint(rows, size=n))
        values.append(rng.choice([-1.0, 1.0], size=n))
        offset += rows
    return np.array(positions, dtype=np.int64), np.array(values, dtype=np.float32)


def _thin_svd(A, rank_cap, rng):
    if min(A.shape) <= 1:  # a single row or column: its own (only) singular triplet
        dense = A.toarray() if sp.issparse(A) else A
        return np.linalg.svd(dense, full_matrices=False)
    if sp.issparse(A) or min(A.shape) > rank_cap:
        rank = max(1, min(rank_cap, min(A.shape) - 1))
        return randomized_svd(A, rank, random_state=rng)
    return np.linalg.svd(A, full_matrices=False)


def _top_left_singular_vector(rows):
    if sp.issparse(rows) and min(rows.shape) > 1:
        start = np.ones(min(rows.shape)) / np.sqrt(min(rows.shape))
        left = svds(rows.astype(np.float64), k=1, v0=start)[0][:, 0]
    else:
        rows = rows.toarray() if sp.issparse(rows) else rows  # at most one row or column
        left = np.linalg.svd(rows, full_matrices=False)[0][:, 0]
    # The sign is arbitrary for S A's row space; fix it for determinism.
    return left if left.sum() >= 0 else -left


def ridge_leverage_scores(A, n_components, rng, rank_cap=500):
    """Ridge leverage scores of the rows of ``A`` with lambda = ||A - [A]_k||_F^2 / k.

    ``tau_i = a_i (A^T A + lambda I)^+ a_i^T = sum_j s_j^2 / (s_j^2 + lambda) U_ij^2``
    (Cohen, Musco, Musco 2017), from a thin SVD: exact for a dense ``A`` with
    min(n, d) <= ``rank_cap``; otherwise (large or sparse ``A``) from the top
    ``min(rank_cap, min(n, d) - 1)`` singular triplets of a randomized SVD
    (the tail's terms are small since its s_j^2 are below lambda on average).
    """
    U, s, _ = _thin_svd(A, rank_cap, rng)
    total = float(A.multiply(A).sum()) if sp.issparse(A) else float(np.sum(A * A))
    tail = max(total - float(np.sum(s[:n_components] ** 2)), 0.0)
    ridge = tail / n_components
    weights = s**2 / (s**2 + ridge) if ridge > 0 else (s > 0).astype(float)
    return np.asarray((U**2) @ weights).ravel()


def inner_product_countsketch(A, n_rows, n_components, rng, offset=0):
    """One CountSketch block of ``n_rows`` rows placed by the inner-product rule.

    Parameters
    ----------
    A : ndarray or sparse matrix of shape (n, d)
        The average training matrix.
    n_rows : int
        Number of buckets (rows of this block).
    n_components : int
        Target rank k (sets the ridge lambda).
    rng : numpy RandomState
    offset : int
        First row of this block in the full sketch.

    Returns
    -------
    positions : ndarray of shape (n,), int64
    values : ndarray of shape (n,), float32
    """
    n = A.shape[0]
    A = sp.csr_matrix(A) if sp.issparse(A) else np.asarray(A, dtype=np.float64)
    squares = (np.asarray(A.multiply(A).sum(axis=1)).ravel() if sp.issparse(A)
               else np.sum(A * A, axis=1))
    row_norms = np.sqrt(squares)
    scores = ridge_leverage_scores(A, n_components, rng)
    scores = np.where(row_norms > 0, np.maximum(scores, 0), 0)
    n_heads = min(n_rows, int(np.count_nonzero(scores)))
    # Rows no head can attract (zero rows) keep a random bucket and sign.
    positions = rng.randint(n_rows, size=n)
    values = rng.choice([-1.0, 1.0], size=n)
    if n_heads:
        heads = rng.choice(n, size=n_heads, replace=False, p=scores / scores.sum())
        nonzero = row_norms > 0
        if sp.issparse(A):
            unit = sp.csr_matrix(sp.diags(1 / row_norms[nonzero]) @ A[nonzero])
        else:
            unit = A[nonzero] / row_norms[nonzero, None]
        head_unit = unit[np.searchsorted(np.flatnonzero(nonzero), heads)]
        cosines = unit @ head_unit.T
        cosines = cosines.toarray() if sp.issparse(cosines) else np.asarray(cosines)
        positions[nonzero] = np.argmax(np.abs(cosines), axis=1)
        for bucket in range(n_heads):
            members = np.flatnonzero(nonzero & (positions == bucket))
            if members.size == 0:
                continue
            # Scaling a row of S leaves the row space of S A unchanged; entries of
            # RMS 1 (like the +-1 of a random sketch) make learning rates carry over.
            values[members] = _top_left_singular_vector(A[members]) * np.sqrt(members.size)
    return (offset + positions).astype(np.int64), values.astype(np.float32)


def _top_eigenpair(gram, members):
    """Top eigenvalue and unit eigenvector of ``gram[members, members]`` (sign fixed)."""
    eigenvalues, eigenvectors = np.linalg.eigh(gram[np.ix_(members, members)])
    vector = eigenvectors[:, -1]
    return eigenvalues[-1], (vector if vector.sum() >= 0 else -vector)


def _unit_rms(coefficients, positions, n_rows):
    # Scaling a row of S leaves the row space of S A unchanged; entries of RMS
    # 1 (like the +-1 of a random sketch) make learning rates carry over.
    counts = np.bincount(positions, minlength=n_rows)
    return (coefficients * np.sqrt(counts[positions])).astype(np.float32)


def _bucket_state(gram, positions, n_rows):
    top = np.zeros(n_rows)
    coefficients = np.zeros(gram.shape[0])
    for bucket in range(n_rows):
        members = np.flatnonzero(positions == bucket)
        if members.size:
            top[bucket], coefficients[members] = _top_eigenpair(gram, members)
    return top, coefficients


def bucket_top_vectors(gram, positions, n_rows):
    """Closed-form values for fixed positions: each bucket's top eigenvector of ``gram``.

    Parameters
    ----------
    gram : ndarray of shape (n, n)
        Symmetric positive semi-definite (``sum_j A_j A_j^T``, or ``sum_j U_j U_j^T``
        for the top-k left singular vectors ``U_j`` of a few matrices).
    positions : ndarray of shape (n,), int
        Bucket (row of S) of every row of the matrices, in ``[0, n_rows)``.
    n_rows : int

    Returns
    -------
    values : ndarray of shape (n,), float32
    """
    _, coefficients = _bucket_state(gram, positions, n_rows)
    return _unit_rms(coefficients, positions, n_rows)


def greedy_countsketch(gram, positions, n_rows, rng, max_sweeps=10, max_time=None):
    """Greedy CountSketch positions and values on ``sum_b lambda_max(gram[B_b, B_b])``.

    Visits the rows in random order; each row moves to the bucket with the
    largest guaranteed gain of the objective (2 x 2 lower bounds, see the
    module docstring), if it is positive, and the two buckets' eigenpairs are
    recomputed exactly. Stops after a sweep without a move, ``max_sweeps``
    sweeps, or ``max_time`` seconds (checked per row).

    Parameters
    ----------
    gram : ndarray of shape (n, n)
        Symmetric positive semi-definite Gram matrix of the training matrices' rows.
    positions : ndarray of shape (n,), int
        Starting buckets (a random hash, say), in ``[0, n_rows)``.
    n_rows : int
        Number of buckets m.
    rng : numpy RandomState
        Order of the visits.
    max_sweeps : int
    max_time : float or None
        Seconds.

    Returns
    -------
    positions : ndarray of shape (n,), int64
    values : ndarray of shape (n,), float32
    n_moves : int
    """
    positions = np.array(positions, dtype=np.int64)
    top, coefficients = _bucket_state(gram, positions, n_rows)
    diagonal = np.diag(gram)
    tolerance = 1e-12 * max(float(np.trace(gram)), np.finfo(float).tiny)
    deadline = None if max_time is None else time.perf_counter() + max_time
    n_moves = 0
    for _ in range(max_sweeps):
        moved = 0
        for row in rng.permutation(gram.shape[0]):
            if deadline is not None and time.perf_counter() > deadline:
                return positions, _unit_rms(coefficients, positions, n_rows), n_moves + moved
            source = positions[row]
            # x_b = gram[row, B_b] v_b for every bucket b at once.
            coupling = np.bincount(positions, weights=gram[row] * coefficients, minlength=n_rows)
            own, g_ii = coefficients[row], diagonal[row]
            # Leaving: the Rayleigh quotient of v_source without this row.
            if own * own < 1.0 - 1e-12:
                remaining = ((top[source] * (1 - 2 * own * own) + own * own * g_ii)
                             / (1 - own * own))
            else:
                remaining = 0.0
            # Joining b: top eigenvalue of [[lambda_b, x_b], [x_b, g_ii]].
            joined = 0.5 * (top + g_ii) + np.sqrt(0.25 * (top - g_ii) ** 2 + coupling**2)
            gain = joined - top
            gain[source] = -np.inf
            target = int(np.argmax(gain))
            if gain[target] + remaining - top[source] <= tolerance:
                continue
            positions[row] = target
            moved += 1
            for bucket in (source, target):
                members = np.flatnonzero(positions == bucket)
                if members.size:
                    top[bucket], coefficients[members] = _top_eigenpair(gram, members)
                else:
                    top[bucket] = 0.0
        n_moves += moved
        if not moved:
            break
    return positions, _unit_rms(coefficients, positions, n_rows), n_moves


# ------------------------------------------------------- the init parameter
@dataclass(frozen=True)
class TrainingMatrices:
    """What an initialisation may read: the samples, their layout and scale factors.

    ``shape`` is one sample's (n x columns) shape: a training matrix, or
    under the few-shot objective the ``U_j diag(s_j)`` of a shot. ``shots``
    returns the samples a few-shot start reads.
    """

    samples: object
    shape: tuple
    scales: np.ndarray
    matrix_shape: tuple
    n_components: int
    shots: Callable[[], np.ndarray]
    max_time: float | None


def _start_random(data, positions, values, n_rows, rng):
    return positions, values


def _start_inner_product(data, positions, values, n_rows, rng):
    average = average_matrix(data.samples, data.scales, data.matrix_shape)
    return inner_product_countsketch(average, n_rows, data.n_components, rng)


def _start_greedy(data, positions, values, n_rows, rng):
    positions, values, _ = greedy_countsketch(row_gram(data.samples, data.shape, data.scales),
                                              positions, n_rows, rng, max_time=data.max_time)
    return positions, values


def _start_few_shot(data, positions, values, n_rows, rng):
    gram = top_subspace_gram(data.samples, data.shape, data.shots(), data.n_components)
    return positions, bucket_top_vectors(gram, positions, n_rows)


#: init parameter -> ``(data, positions, values, n_rows, rng) -> (positions, values)`` of the
#: learned block, from its random start.
INITIALISATIONS = {"random": _start_random, "inner-product": _start_inner_product,
                   "greedy": _start_greedy, "few-shot": _start_few_shot}


def numpy_rng(generator):
    """A numpy RNG seeded from the torch generator of ``torch_generator(random_state)``."""
    return np.random.RandomState(int(torch.randint(2**31 - 1, (1,), generator=generator)))


def sketch_block_rows(sketch, sketch_size):
    """Rows of each CountSketch block: learned, then random for the mixed sketches."""
    if sketch.startswith("mixed"):
        learned = sketch_size // 2
        return [learned, sketch_size - learned]
    return [sketch_size]


def fixed_sketch(sketch, n, sketch_size, rng):
    """The fitted attributes of an untrained ``"random"`` or ``"gaussian"`` sketch."""
    if sketch == "gaussian":
        matrix = rng.normal(size=(sketch_size, n)) / np.sqrt(sketch_size)
        return {"sketch_": matrix, "positions_": None, "values_": None}
    positions, values = random_countsketch(n, [sketch_size], rng)
    return {"sketch_": countsketch_matrix(positions, values, sketch_size),
            "positions_": positions, "values_": values}
