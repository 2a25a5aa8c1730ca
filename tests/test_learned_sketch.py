"""LearnedSketchLowRank: the SCW math, the input forms, and the paper's claim (small)."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.model_selection import GridSearchCV

from skunroll.datasets import make_low_rank_family
from skunroll.metrics import excess_low_rank_error
from skunroll.sketching import (
    CountSketch,
    LearnedSketchLowRank,
    LowRankFactors,
    scw_error,
    scw_factors,
)
from skunroll.sketching._init import (
    bucket_top_vectors,
    greedy_countsketch,
    inner_product_countsketch,
)
from skunroll.sketching._modules import SparseMatrices, few_shot_loss, scw_loss
from skunroll.sketching._scw import countsketch_matrix
from skunroll.utils._linalg import optimal_error

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _scene(n_matrices=60, n=60, d=40, signal_rows=12, random_state=0):
    return make_low_rank_family(n_matrices, n, d, rank=4, n_signal_rows=signal_rows,
                                noise=0.3, random_state=random_state)


def _sparse_batch(matrices):
    batch, row, col = np.nonzero(matrices)
    return SparseMatrices(*(torch.as_tensor(v) for v in (batch, row, col)),
                          torch.as_tensor(matrices[batch, row, col]), matrices.shape)


# ----------------------------------------------------------------- the math
def test_countsketch_dense_and_sparse_application_agree_with_the_matrix():
    rng = np.random.RandomState(0)
    A = rng.normal(size=(3, 30, 7)) * (rng.uniform(size=(3, 30, 7)) < 0.3)
    positions = np.stack([rng.randint(4, size=30), 4 + rng.randint(5, size=30)])
    values = rng.normal(size=(2, 30))
    module = CountSketch(torch.as_tensor(positions), torch.as_tensor(values), n_rows=9,
                         n_learned=1)
    S = countsketch_matrix(positions, values, 9)
    # One nonzero per block and column.
    assert S.nnz == 60 and np.all(np.diff(S.tocsc().indptr) == 2)
    expected = np.stack([S @ a for a in A])
    dense = module.apply(torch.as_tensor(A)).detach().numpy()
    sparse = module.apply(_sparse_batch(A)).detach().numpy()
    np.testing.assert_allclose(dense, expected, atol=1e-12)
    np.testing.assert_allclose(sparse, expected, atol=1e-12)


def test_a_full_identity_sketch_gives_the_optimal_rank_k_approximation():
    rng = np.random.RandomState(1)
    A = rng.normal(size=(12, 20))
    S = countsketch_matrix(np.arange(12)[None], rng.choice([-1.0, 1.0], size=(1, 12)), 12)
    U, s, Vt = scw_factors(A, S, 3)
    left, singular, right = np.linalg.svd(A)
    np.testing.assert_allclose((U * s) @ Vt, (left[:, :3] * singular[:3]) @ right[:3], atol=1e-10)
    assert abs(scw_error(A, S, 3) - optimal_error(A, 3)) < 1e-10
    torch_error = scw_loss(torch.as_tensor(A)[None], torch.as_tensor(S.toarray() @ A)[None], 3)
    assert abs(float(torch_error) - optimal_error(A, 3)) < 1e-10
    # m > n with an injective hash (8 buckets stay empty, S A has zero rows): still optimal.
    rows = rng.permutation(20)[:12]
    wide = countsketch_matrix(rows[None], np.ones((1, 12)), 20)
    assert abs(excess_low_rank_error(A, scw_factors(A, wide, 3), 3)) < 1e-10


def test_scw_factors_are_orthonormal_and_padded_when_rank_is_low():
    rng = np.random.RandomState(2)
    A = rng.normal(size=(15, 2)) @ rng.normal(size=(2, 10))  # rank 2 < k
    S = countsketch_matrix(rng.randint(6, size=(1, 15)), np.ones((1, 15)), 6)
    U, s, Vt = scw_factors(A, S, 4)
    assert U.shape == (15, 4) and s.shape == (4,) and Vt.shape == (4, 10)
    np.testing.assert_allclose(s[2:], 0)
    np.testing.assert_allclose(U[:, :2].T @ U[:, :2], np.eye(2), atol=1e-10)
    np.testing.assert_allclose(Vt[:2] @ Vt[:2].T, np.eye(2), atol=1e-10)
    np.testing.assert_allclose((U * s) @ Vt, A, atol=1e-10)  # rank 2: recovered exactly


def test_torch_and_numpy_scw_errors_agree_for_sparse_and_dense():
    A = _scene(n_matrices=3)
    rng = np.random.RandomState(3)
    positions, values = rng.randint(8, size=(1, 60)), rng.choice([-1.0, 1.0], size=(1, 60))
    module = CountSketch(torch.as_tensor(positions), torch.as_tensor(values), 8, 1)
    S = countsketch_matrix(positions, values, 8)
    expected = [scw_error(a, S, 3) for a in A]
    np.testing.assert_allclose(module(torch.as_tensor(A), 3).detach().numpy(), expected, rtol=1e-9)
    np.testing.assert_allclose(module(_sparse_batch(A), 3).detach().numpy(), expected, rtol=1e-9)


@pytest.mark.parametrize("n_buckets", [6, 30])  # 30 > n = 20: empty buckets, rank-deficient S A
def test_gradient_matches_finite_differences(n_buckets):
    A = torch.as_tensor(_scene(n_matrices=2, n=20, d=15, signal_rows=6))
    rng = np.random.RandomState(4)
    module = CountSketch(torch.as_tensor(rng.randint(n_buckets, size=(1, 20))),
                         torch.as_tensor(rng.normal(size=(1, 20))), n_buckets, 1)
    if n_buckets > 20:
        assert torch.linalg.matrix_rank(module.apply(A)[0]) < n_buckets
    loss = module(A, 2).sum()
    loss.backward()
    gradient = module.learned_values.grad.clone()
    assert torch.all(torch.isfinite(gradient)) and torch.any(gradient != 0)
    # Central differences: truncation error ~ step^2, rounding ~ 1e-16 / step; at
    # 1e-6 the SVD's rounding alone reached 1e-7, at 1e-4 both stay below 1e-9.
    step = 1e-4
    for index in range(0, 20, 3):
        with torch.no_grad():
            module.learned_values[0, index] += step
            up = module(A, 2).sum()
            module.learned_values[0, index] -= 2 * step
            down = module(A, 2).sum()
            module.learned_values[0, index] += step
        assert float((up - down) / (2 * step)) == pytest.approx(float(gradient[0, index]),
                                                                rel=1e-4, abs=1e-7)


def test_gradients_are_finite_for_rank_deficient_sketches_and_tied_singular_values():
    # m > n leaves buckets empty (zero rows of S A), A has a zero row, and its
    # singular values all coincide (a scaled partial identity).
    A = torch.zeros(1, 6, 6, dtype=torch.float64)
    A[0, :5, :5] = 2 * torch.eye(5)
    positions = torch.tensor([[0, 1, 2, 3, 3, 9]])
    module = CountSketch(positions, torch.ones(1, 6, dtype=torch.float64), n_rows=10, n_learned=1)
    sketched = module.apply(A)[0]
    assert torch.linalg.matrix_rank(sketched) < 10  # the degenerate case is really there
    loss = module(A, 2).sum()
    loss.backward()
    assert torch.isfinite(loss) and torch.all(torch.isfinite(module.learned_values.grad))
    # The exactly representable case (error 0) has a zero, not a NaN, gradient.
    exact = CountSketch(torch.arange(6)[None], torch.ones(1, 6, dtype=torch.float64), 6, 1)
    exact(A, 5).sum().backward()
    assert torch.all(torch.isfinite(exact.learned_values.grad))


def test_inner_product_init_puts_each_cluster_of_rows_in_one_bucket():
    rng = np.random.RandomState(5)
    directions = np.linalg.qr(rng.normal(size=(20, 3)))[0].T  # 3 orthonormal directions
    cluster = rng.randint(3, size=40)
    A = directions[cluster] * rng.uniform(0.5, 2, size=(40, 1))
    positions, values = inner_product_countsketch(A, 6, 3, np.random.RandomState(0))
    for bucket in np.unique(positions):
        assert len(np.unique(cluster[positions == bucket])) == 1
    S = countsketch_matrix(positions[None], values[None], 6)
    # rank 3 data: the sketch keeps all of it (up to float64 cancellation in ||A||^2 - energy)
    assert scw_error(A, S, 3) < 1e-6 * np.linalg.norm(A)


def _bucket_objective(gram, positions, n_rows):
    return sum(np.linalg.eigvalsh(gram[np.ix_(members, members)])[-1]
               for members in (np.flatnonzero(positions == b) for b in range(n_rows))
               if members.size)


def test_greedy_search_recovers_planted_groups_of_parallel_rows():
    # 6 groups of parallel rows (random signs and lengths) in 60 rows: one
    # bucket per group captures all the energy, and the search finds it from
    # a random hash.
    rng = np.random.RandomState(0)
    groups = rng.randint(6, size=60)
    directions = rng.normal(size=(6, 3, 40))  # per group, per matrix
    lengths = rng.choice([-1, 1], size=60) * rng.uniform(0.5, 2, size=60)
    matrices = np.stack([lengths[:, None] * directions[groups, j] for j in range(3)])
    gram = np.einsum("jab,jcb->ac", matrices, matrices)
    start = rng.randint(6, size=60)
    positions, values, n_moves = greedy_countsketch(gram, start, 6, rng)
    assert n_moves > 0
    # The partition is the planted one, up to renaming the buckets.
    assert all(len(set(positions[groups == g])) == 1 for g in range(6))
    assert len(set(positions)) == 6
    assert _bucket_objective(gram, positions, 6) == pytest.approx(np.trace(gram), rel=1e-9)
    S = countsketch_matrix(positions[None], values[None], 6)
    for A in matrices:  # rank 6 <= m: the sketch's row space holds every matrix
        assert scw_error(A, S, 6) < 1e-6 * np.linalg.norm(A)


def test_greedy_search_only_raises_its_objective_and_bounds_the_projection_error():
    rng = np.random.RandomState(1)
    matrices = _scene(n_matrices=8, random_state=1)
    gram = np.einsum("jab,jcb->ac", matrices, matrices)
    start = rng.randint(8, size=60)
    before = _bucket_objective(gram, start, 8)
    positions, values, _ = greedy_countsketch(gram, start, 8, rng, max_sweeps=1)
    after = _bucket_objective(gram, positions, 8)
    more, _, _ = greedy_countsketch(gram, positions, 8, rng)
    assert before < after <= _bucket_objective(gram, more, 8) + 1e-9
    # sum_j ||A_j - A_j P||^2 <= trace(G) - objective, P onto the row space of S A_j.
    S = countsketch_matrix(positions[None], values[None], 8).toarray()
    residual = 0.0
    for A in matrices:
        basis = np.linalg.svd(S @ A, full_matrices=False)[2]
        residual += np.sum((A - A @ basis.T @ basis) ** 2)
    assert residual <= np.trace(gram) - after + 1e-8 * np.trace(gram)
    # The values are each bucket's top eigenvector, at RMS 1 per bucket.
    for bucket in range(8):
        members = np.flatnonzero(positions == bucket)
        vector = values[members] / np.linalg.norm(values[members])
        block = gram[np.ix_(members, members)]
        assert vector @ block @ vector == pytest.approx(np.linalg.eigvalsh(block)[-1], rel=1e-5)
        assert np.mean(values[members] ** 2) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(bucket_top_vectors(gram, positions, 8), values, rtol=1e-5)


def test_greedy_search_stops_at_its_time_budget():
    rng = np.random.RandomState(0)
    gram = np.cov(rng.normal(size=(300, 400)))
    start = rng.randint(10, size=300)
    _, _, n_moves = greedy_countsketch(gram, start, 10, rng, max_time=1e-9)
    assert n_moves == 0


def test_few_shot_loss_is_zero_exactly_when_the_top_subspace_is_embedded_apart():
    rng = np.random.RandomState(0)
    basis = torch.as_tensor(np.linalg.qr(rng.normal(size=(12, 12)))[0][None])
    identity = CountSketch(torch.arange(12)[None], torch.ones(1, 12, dtype=torch.float64),
                           n_rows=12, n_learned=1)
    assert float(identity.few_shot(basis, 3)[0]) == pytest.approx(0.0, abs=1e-20)
    # By hand for a random hash: ||(S U_k)^T S U - [I 0]||_F^2.
    positions, values = rng.randint(4, size=12), rng.choice([-1.0, 1.0], size=12)
    S = countsketch_matrix(positions[None], values[None], 4).toarray()
    U = basis[0].numpy()
    expected = np.sum(((S @ U[:, :3]).T @ (S @ U) - np.eye(3, 12)) ** 2)
    sketched = torch.as_tensor(S @ U)[None]
    assert float(few_shot_loss(sketched, 3)[0]) == pytest.approx(expected, rel=1e-12)


def test_few_shot_objective_trains_on_the_shots_and_beats_its_random_start(scene):
    train, test = scene[:45], scene[45:]
    start = _fast(init="random", max_epochs=1, learning_rate=1e-12, early_stopping=False)
    few_shot = _fast(init="random", objective="few-shot", n_shots=3, max_epochs=200,
                     early_stopping=False)
    start.fit(train)
    few_shot.fit(train)
    assert few_shot.loss_curve_[-1] < 0.5 * few_shot.loss_curve_[0]
    assert few_shot.score(test) > start.score(test)
    np.testing.assert_array_equal(few_shot.positions_, start.positions_)
    with pytest.raises(ValueError, match="inner-product"):
        _fast(init="inner-product", objective="few-shot").fit(train)


def test_auto_learning_rate_and_schedule_follow_the_objective(scene):
    scw = _fast(early_stopping=False, max_epochs=2).fit(scene[:10])
    few = _fast(objective="few-shot", early_stopping=False, max_epochs=2).fit(scene[:10])
    assert scw.learning_rate_curve_[0] == 30.0 and few.learning_rate_curve_[0] == 10.0
    # "plateau": the rate drops once the training loss stalls, so a fit ends early.
    stalled = _fast(init="random", learning_rate=1e-9, early_stopping=False, max_epochs=40,
                    n_iter_no_change=4, tol=1.0).fit(scene[:10])
    assert stalled.learning_rate_curve_[-1] < 1e-9 and stalled.n_iter_ < 40


# ---------------------------------------------------------------- the contract
@pytest.fixture(scope="module")
def scene():
    return _scene()


def _fast(**params):
    defaults = dict(n_components=4, sketch_size=8, max_epochs=3, device="cpu", random_state=0)
    return LearnedSketchLowRank(**{**defaults, **params})


def test_all_input_forms_give_the_same_fit_and_approximations(scene):
    train, test = scene[:20], scene[50:52]
    forms = {
        "3-D": (train, test),
        "list": (list(train), list(test)),
        "sparse list": ([sp.csr_matrix(a) for a in train], [sp.csr_matrix(a) for a in test]),
    }
    reference = _fast().fit(train)
    for name, (fit_input, test_input) in forms.items():
        estimator = _fast().fit(fit_input)
        # float32 SGD: the sparse path sums in another order, so a little drift.
        tolerance = 1e-3 if "sparse" in name else 1e-6
        np.testing.assert_allclose(estimator.values_, reference.values_, atol=tolerance,
                                   err_msg=name)
        factors = estimator.transform(test_input)
        assert isinstance(factors, list) and isinstance(factors[0], LowRankFactors)
        np.testing.assert_allclose(
            factors[0].s, reference.transform(test)[0].s, rtol=tolerance, err_msg=name
        )
    flat = _fast(matrix_shape=(60, 40)).fit(train.reshape(20, -1))
    np.testing.assert_allclose(flat.values_, reference.values_, rtol=1e-5)
    out = flat.transform(test.reshape(2, -1))
    assert out.shape == (2, 2400)
    np.testing.assert_allclose(out[0].reshape(60, 40), reference.approximate(test[0]), atol=1e-8)
    assert flat.matrix_shape_ == (60, 40) and flat.n_features_in_ == 2400
    inferred = _fast(matrix_shape=(-1, 40)).fit(train.reshape(20, -1))
    assert inferred.matrix_shape_ == (60, 40)


@pytest.fixture
def densified_shapes(monkeypatch):
    """Shapes of every scipy sparse matrix made dense while the test runs."""
    shapes = []
    for cls in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix):
        for method in ("toarray", "todense"):
            original = getattr(cls, method)

            def spy(self, *args, _original=original, **kwargs):
                shapes.append(self.shape)
                return _original(self, *args, **kwargs)

            monkeypatch.setattr(cls, method, spy)
    return shapes


@pytest.mark.parametrize("init", ["random", "inner-product", "greedy", "few-shot"])
def test_sparse_matrices_are_never_densified(scene, densified_shapes, init):
    matrices = [sp.csr_matrix(a * (np.abs(a) > 1)) for a in scene[:20]]
    estimator = _fast(init=init).fit(matrices)
    estimator.transform(matrices[:3])
    estimator.score(matrices[:3])
    assert densified_shapes, "the spy saw nothing: it is not watching"
    # Only m-row sketches S A (and n x m cosines) are made dense, never an n x d matrix.
    assert all(shape[0] <= 8 or shape[1] != 40 for shape in densified_shapes), densified_shapes


def test_zero_matrices_and_more_buckets_than_rows_train(scene):
    matrices = np.concatenate([scene[:10], np.zeros((2, 60, 40))])
    estimator = _fast(batch_size=3).fit(matrices)
    assert np.all(np.isfinite(estimator.values_))
    assert estimator.score(np.zeros((2, 60, 40))) == 0
    wide = _fast(sketch_size=80, max_epochs=2).fit(scene[:10])  # m > n = 60
    assert -wide.score(scene[50:]) < -_fast(sketch="random").fit(scene[:10]).score(scene[50:])


def test_excess_error_of_factors_equals_that_of_the_dense_matrix(scene):
    A = scene[0]
    factors = scw_factors(A, countsketch_matrix(np.arange(60)[None] % 8, np.ones((1, 60)), 8), 4)
    dense = (factors.U * factors.s) @ factors.Vt
    expected = excess_low_rank_error(A, dense, 4)
    assert expected > 0.01
    assert excess_low_rank_error(A, factors, 4) == pytest.approx(expected, rel=1e-9)
    assert excess_low_rank_error(sp.csr_matrix(A), factors, 4) == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ValueError, match="n_components"):
        excess_low_rank_error(A, dense, 0)


@pytest.mark.parametrize(
    "bad_input, message",
    [
        (lambda s: [s[0], s[1][:, :30]], "Matrix 1 has shape"),
        (lambda s: [s[0], s[1].ravel()], "must be 2-D"),
        (lambda s: s[:5].reshape(5, -1), "needs matrix_shape"),
        (lambda s: [], "sample"),
    ],
)
def test_malformed_collections_are_rejected_clearly(scene, bad_input, message):
    with pytest.raises(ValueError, match=message):
        _fast().fit(bad_input(scene))


def test_shape_checks_at_fit_and_transform(scene):
    with pytest.raises(ValueError, match="cannot be read as a matrix"):
        _fast(matrix_shape=(7, -1)).fit(scene[:5].reshape(5, -1))
    with pytest.raises(ValueError, match="matrix_shape=\\(40, 60\\)"):
        _fast(matrix_shape=(40, 60)).fit(scene[:5])
    with pytest.raises(ValueError, match="n_components=50 must be <= min"):
        _fast(n_components=50, sketch_size=60).fit(scene[:5])
    with pytest.raises(ValueError, match="sketch_size=3 must be >= n_components=4"):
        _fast(sketch_size=3).fit(scene[:5])
    fitted = _fast().fit(scene[:5])
    with pytest.raises(ValueError, match="fitted on matrices of shape \\(60, 40\\)"):
        fitted.transform(scene[:2].transpose(0, 2, 1).reshape(2, 40, 60))
    with pytest.raises(ValueError, match="one 2-D matrix"):
        fitted.approximate(scene[:2])
    # transform uses the fitted rank, whatever set_params says later.
    fitted.set_params(n_components=2)
    assert fitted.transform(scene[:1])[0].s.shape == (4,)


def test_set_output_applies_to_flattened_input_only(scene):
    pd = pytest.importorskip("pandas")
    fitted = (_fast(matrix_shape=(60, 40)).fit(scene[:5].reshape(5, -1))
              .set_output(transform="pandas"))
    table = fitted.transform(scene[:2].reshape(2, -1))
    assert isinstance(table, pd.DataFrame) and table.shape == (2, 2400)
    with pytest.raises(ValueError, match="flattened 2-D input only"):
        fitted.transform(scene[:2])


def test_score_is_minus_the_mean_excess_error_at_the_spectral_norm(scene):
    estimator = _fast(sketch="random").fit(scene[:10])
    test = scene[50:55]
    excess = []
    for A in test:
        scale = 10.0 / np.linalg.norm(A, 2)
        excess.append(excess_low_rank_error(scale * A, scale * estimator.approximate(A), 4))
    assert estimator.score(test) == pytest.approx(-np.mean(excess), rel=1e-8)
    assert estimator.score(test) < 0
    raw = _fast(sketch="random", spectral_norm=None).fit(scene[:10])
    direct = [excess_low_rank_error(A, raw.approximate(A), 4) for A in test]
    assert raw.score(test) == pytest.approx(-np.mean(direct), rel=1e-8)


def test_sketch_kinds_have_the_documented_structure(scene):
    for kind in ["learned", "random", "mixed-joint", "mixed-separate"]:
        estimator = _fast(sketch=kind, sketch_size=9).fit(scene[:10])
        assert sp.issparse(estimator.sketch_) and estimator.sketch_.shape == (9, 60)
        n_blocks = 2 if kind.startswith("mixed") else 1
        assert estimator.positions_.shape == estimator.values_.shape == (n_blocks, 60)
        assert estimator.sketch_.nnz == 60 * n_blocks
        assert (estimator.n_iter_ > 0) == (kind != "random")
    gaussian = _fast(sketch="gaussian").fit(scene[:10])
    assert isinstance(gaussian.sketch_, np.ndarray) and gaussian.positions_ is None
    # Mixed sketches: the random half stays exactly as drawn (+-1) in rows 4..8.
    mixed = _fast(sketch="mixed-joint", sketch_size=9, max_epochs=2).fit(scene[:10])
    assert set(np.abs(mixed.values_[1])) == {1.0}
    assert mixed.positions_[0].max() < 4 <= mixed.positions_[1].min()


def test_one_seed_gives_random_and_learned_sketches_the_same_start(scene):
    # From init="random", training moves the values, never the positions; a
    # tiny step keeps their signs.
    for seed in (0, 7):
        random = _fast(sketch="random", sketch_size=9, random_state=seed).fit(scene[:10])
        learned = _fast(sketch="learned", init="random", sketch_size=9, max_epochs=1,
                        learning_rate=1e-6, random_state=seed).fit(scene[:10])
        np.testing.assert_array_equal(learned.positions_, random.positions_)
        np.testing.assert_array_equal(np.sign(learned.values_), random.values_)


@pytest.mark.parametrize("init", ["random", "greedy"])
def test_the_learned_sketch_beats_a_random_one_on_a_family_of_matrices(scene, init):
    """The paper's claim, small: same m, far lower test excess error."""
    train, test = scene[:45], scene[45:]
    random_errors = [_fast(sketch="random", random_state=seed).fit(train).score(test)
                     for seed in range(3)]
    learned = _fast(max_epochs=15, init=init, lr_schedule="constant").fit(train)
    # scores are minus the excess error
    assert -learned.score(test) < 0.5 * -max(random_errors)
    assert learned.loss_curve_[-1] < learned.loss_curve_[0]


@pytest.mark.parametrize("kind", ["mixed-joint", "mixed-separate"])
def test_mixed_sketches_are_never_worse_than_their_random_half(scene, kind):
    train, test = scene[:45], scene[45:]
    mixed = _fast(sketch=kind, max_epochs=10).fit(train)
    random_half = countsketch_matrix(mixed.positions_[1:] - 4, mixed.values_[1:], 4)
    for A in test:
        half = scw_error(A, random_half, 4)
        assert scw_error(A, mixed.sketch_, 4) <= half + 1e-9
    # ... and the learned half makes them clearly better on this family.
    random_alone = _fast(sketch="random", sketch_size=4).fit(train)
    random_alone.sketch_ = random_half
    assert mixed.score(test) > random_alone.score(test)


@pytest.mark.parametrize("init", ["inner-product", "greedy", "few-shot"])
def test_data_driven_inits_start_better_than_a_random_hash(scene, init):
    train, test = scene[:45], scene[45:]
    start = dict(max_epochs=1, learning_rate=1e-12, early_stopping=False)
    random_init = _fast(init="random", **start).fit(train)
    informed = _fast(init=init, **start).fit(train)
    assert informed.score(test) > random_init.score(test)


def test_grid_search_over_rank_and_sketch_size_on_a_list_of_matrices(scene):
    search = GridSearchCV(
        _fast(sketch="random"),
        {"n_components": [2, 4], "sketch_size": [8, 16]},
        cv=3,
    ).fit(list(scene[:30]))
    assert len(search.cv_results_["params"]) == 4
    # A larger sketch is at least as good for the same rank on this family.
    results = search.cv_results_
    scores = {tuple(p.values()): s
              for p, s in zip(results["params"], results["mean_test_score"], strict=True)}
    assert scores[(4, 16)] > scores[(4, 8)]


def test_warm_start_continues_training(scene):
    estimator = _fast(warm_start=True, early_stopping=False).fit(scene[:20])
    first = estimator.values_.copy()
    estimator.fit(scene[:20])
    assert estimator.n_iter_ == 6 and len(estimator.loss_curve_) == 6
    assert not np.array_equal(first, estimator.values_)
    estimator.set_params(sketch_size=10)
    with pytest.raises(ValueError, match="warm_start"):
        estimator.fit(scene[:20])


@pytest.mark.gpu
def test_training_on_cuda_gives_a_cpu_sketch(scene):
    estimator = _fast(device="cuda").fit(scene[:20])
    assert isinstance(estimator.values_, np.ndarray) and estimator.score(scene[50:]) < 0


def test_the_battery_shape_makes_the_sketch_matter():
    # tests/test_battery.py's instance: what it checks (pickling, determinism,
    # sparse == dense) would hold for any sketch if the output ignored it.
    from ._estimators import battery_instances, make_data

    estimator = next(e for e in battery_instances() if isinstance(e, LearnedSketchLowRank)
                     and e.sketch == "learned")
    X = make_data()
    estimator.fit(X)
    before = estimator.transform(X)
    assert np.abs(before - X).max() > 1e-3  # a real approximation, not the input
    # Another sketch of the same shape, with another row space.
    noise = np.random.RandomState(1).normal(size=estimator.sketch_.shape)
    estimator.sketch_ = sp.csr_matrix(noise)
    assert np.abs(estimator.transform(X) - before).max() > 1e-3


def test_sparse_and_dense_training_compute_the_same_first_epoch():
    # The battery's 4 x 3 matrices: the first epoch's loss is the same to float32
    # rounding; later epochs drift apart by amplified rounding only.
    from ._estimators import make_data

    X = make_data()
    params = dict(n_components=1, sketch_size=2, matrix_shape=(-1, 3), max_epochs=1,
                  batch_size=16, init="random", device="cpu", random_state=0)
    dense = LearnedSketchLowRank(**params).fit(X)
    sparse = LearnedSketchLowRank(**params).fit(sp.csr_matrix(X))
    np.testing.assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=1e-6)


def test_tensor_sketch_is_the_top_left_singular_space_of_the_training_matrices():
    rng = np.random.RandomState(0)
    columns = np.linalg.qr(rng.normal(size=(40, 3)))[0]
    matrices = np.einsum("ik,nkd->nid", columns, rng.normal(size=(30, 3, 12)))
    matrices += 0.01 * rng.normal(size=matrices.shape)
    train, test = matrices[:24], matrices[24:]
    tensor = LearnedSketchLowRank(n_components=3, sketch_size=4, sketch="tensor").fit(train)
    S = tensor.sketch_
    assert isinstance(S, np.ndarray) and S.shape == (4, 40) and tensor.n_iter_ == 0
    np.testing.assert_allclose(S @ S.T, np.eye(4), atol=1e-10)
    # Its rows span the shared column space: the first three project onto it exactly.
    np.testing.assert_allclose(np.linalg.norm(S[:3] @ columns, 2), 1.0, atol=1e-3)
    random = LearnedSketchLowRank(n_components=3, sketch_size=4, sketch="random",
                                  random_state=0).fit(train)
    assert tensor.score(test) > random.score(test)
    assert tensor.score(test) > -1e-2
    # More rows than the matrices have: the extra rows are zero, the approximation exact.
    wide = LearnedSketchLowRank(n_components=3, sketch_size=50, sketch="tensor").fit(train)
    assert wide.sketch_.shape == (50, 40) and not wide.sketch_[40:].any()


def test_gram_based_options_refuse_an_n_x_n_matrix_too_large(monkeypatch, scene):
    from skunroll.sketching import _statistics

    monkeypatch.setattr(_statistics, "MAX_GRAM_BYTES", 8 * 59 * 59)
    for params in ({"init": "greedy"}, {"sketch": "tensor"}):
        with pytest.raises(ValueError, match="Gram matrix.*n = 60"):
            _fast(**params).fit(scene[:5])
    _fast(init="inner-product").fit(scene[:5])  # needs no Gram matrix
