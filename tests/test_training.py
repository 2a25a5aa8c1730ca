"""The shared training loop, exercised through a tiny estimator of its own."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from skunroll import L1AEEncoder
from skunroll._training import BaseTorchEstimator, to_numpy
from skunroll._training._docs import training_parameters_doc
from skunroll._training._loop import snapshot
from skunroll._training._optim import Optimizer
from skunroll.datasets import make_block_sparse
from skunroll.exceptions import TrainingDivergedError, TrainingRescuedWarning
from skunroll.utils import resolve_device
from skunroll.utils._batching import BatchSource


class _Scalar(nn.Module):
    def __init__(self, value):
        super().__init__()
        self.p = nn.Parameter(torch.tensor(float(value)))


class ScalarEstimator(BaseTorchEstimator):
    """Loss p**2, whatever the data: SGD multiplies p by (1 - 2 lr) per step."""

    def __init__(self, init=1.0, optimizer="sgd", learning_rate=0.1, batch_size=10, shuffle=True,
                 max_epochs=5, early_stopping=False, validation_fraction=0.2, n_iter_no_change=3,
                 tol=0.0,
                 lr_schedule="constant", max_time=None,
                 warm_start=False, device="cpu", random_state=None, verbose=0,
                 callbacks=None):
        self.init = init
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.lr_schedule = lr_schedule
        self.max_time = max_time
        self.warm_start = warm_start
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks

    _parameter_constraints = {**BaseTorchEstimator._parameter_constraints, "init": [float]}

    def _fit(self, X, y=None, *, incremental=None, classes=None):
        return self._train(X, incremental=incremental)

    def _build_module(self, X, generator, y=None, side=None):
        return _Scalar(self.init)

    def _module_from_attributes(self):
        return _Scalar(self.p_)

    def _batch_loss(self, module, X_batch, y_batch, side_batch):
        return module.p**2 + 0.0 * X_batch.sum()

    def _attributes_from_module(self, module):
        return {"p_": float(module.p.detach())}


X20 = np.ones((20, 2))


def test_loss_curve_and_n_iter():
    est = ScalarEstimator(max_epochs=4, learning_rate=0.1)
    with pytest.warns(ConvergenceWarning, match="max_epochs=4"):
        est.fit(X20)
    assert est.n_iter_ == 4
    # two batches per epoch, p shrinks by 0.8 per step
    np.testing.assert_allclose(est.p_, 0.8**8, rtol=1e-5)
    assert len(est.loss_curve_) == 4
    assert all(a > b for a, b in zip(est.loss_curve_, est.loss_curve_[1:], strict=False))
    assert est.validation_scores_ is None and est.best_loss_ == min(est.loss_curve_)


def test_early_stopping_restores_best_weights():
    # lr=1.5: p is multiplied by -2 each step, so the loss grows every epoch;
    # the best validated weights are those after the first epoch.
    est = ScalarEstimator(learning_rate=1.5, max_epochs=50, early_stopping=True,
                          n_iter_no_change=2, validation_fraction=0.5)
    est.fit(X20)
    assert est.n_iter_ == 3
    assert len(est.validation_scores_) == 3
    assert est.best_validation_score_ == max(est.validation_scores_)
    # 10 training rows, batch 10: one step in the first epoch.
    assert est.p_ == pytest.approx(-2.0)


def test_tol_only_sets_patience_best_weights_are_kept():
    # lr=0.05: p shrinks by 0.9 per step, one step per epoch; with a large tol no
    # epoch counts as an improvement, yet the lowest-loss weights are kept.
    est = ScalarEstimator(learning_rate=0.05, max_epochs=50, early_stopping=True, tol=10.0,
                          n_iter_no_change=3, validation_fraction=0.5)
    est.fit(X20)
    assert est.n_iter_ == 4  # the first epoch improves on "nothing yet", then 3 more
    assert est.p_ == pytest.approx(0.9**4)
    assert est.best_validation_score_ == pytest.approx(-(0.9**8))
    assert est.best_validation_score_ == max(est.validation_scores_)


def test_warm_start_never_ends_worse_than_it_started():
    est = ScalarEstimator(learning_rate=0.05, max_epochs=3, early_stopping=True,
                          validation_fraction=0.5, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X20)
    start = est.p_
    est.set_params(learning_rate=1.5, n_iter_no_change=2, max_epochs=10)  # every step worsens
    est.fit(X20)
    assert est.p_ == pytest.approx(start)
    assert est.best_validation_score_ == pytest.approx(-(start**2))


def test_stops_on_training_loss_plateau():
    est = ScalarEstimator(learning_rate=0.5, max_epochs=100, n_iter_no_change=3, tol=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X20)
    assert est.n_iter_ < 100


def test_warm_start_continues():
    est = ScalarEstimator(max_epochs=2, learning_rate=0.1, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X20)
        est.fit(X20)
    assert est.n_iter_ == 4 and len(est.loss_curve_) == 4
    np.testing.assert_allclose(est.p_, 0.8**8, rtol=1e-5)
    est.set_params(warm_start=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X20)
    assert est.n_iter_ == 2


def test_verbose_reports_one_line_per_epoch(caplog):
    import logging

    with warnings.catch_warnings(), caplog.at_level(logging.INFO, logger="skunroll"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        ScalarEstimator(max_epochs=3, verbose=1, early_stopping=True).fit(X20)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Epoch")]
    assert len(lines) == 3
    assert "train loss" in lines[0] and "validation loss" in lines[0] and lines[0].endswith("s")


def test_divergence_raises_and_keeps_previous_state():
    est = ScalarEstimator(learning_rate=0.1, max_epochs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X20)
    previous = est.p_
    est.set_params(learning_rate=1e30, max_epochs=50)
    with pytest.raises(TrainingDivergedError, match="diverged"):
        est.fit(X20)
    assert est.p_ == previous and est.n_iter_ == 2


def test_divergence_on_first_fit_leaves_estimator_unfitted():
    X = make_block_sparse(200, 50, block_size=5, random_state=0)
    est = L1AEEncoder(n_components=10, learning_rate=1e8, max_epochs=20, device="cpu",
                      random_state=0)
    with pytest.raises(TrainingDivergedError):
        est.fit(X)
    assert not [key for key in vars(est) if key.endswith("_")]


def test_too_few_samples_for_validation():
    with pytest.raises(ValueError, match="n_samples=1"):
        ScalarEstimator(early_stopping=True).fit(np.ones((1, 2)))


def test_sparse_data_is_only_densified_one_batch_at_a_time(densified_rows):
    X = make_block_sparse(3000, 200, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        L1AEEncoder(n_components=10, max_epochs=2, batch_size=64, device="cpu",
                    random_state=0).fit(X)
    assert densified_rows, "the sparse path was not used"
    assert max(densified_rows) <= 1024 < X.shape[0]


def test_batch_source_rows_match_input():
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(30, 5))
    X[X < 0.5] = 0
    for data in (X, sp.csr_matrix(X)):
        source = BatchSource(data, torch.device("cpu"))
        rows = np.array([4, 0, 29])
        np.testing.assert_allclose(source.batch(rows).numpy(), X[rows], rtol=1e-6)
        assert source.batch(rows).dtype == torch.float32
        sizes = [n for n, _ in source.iter_batches(8)]
        assert sizes == [8, 8, 8, 6]


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    with pytest.raises(ValueError, match="not a valid torch device"):
        resolve_device("not-a-device")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


def test_to_numpy_is_a_cpu_copy():
    tensor = torch.ones(3, requires_grad=True)
    array = to_numpy(tensor)
    array[0] = 5
    assert tensor[0].item() == 1 and array.dtype == np.float32


@pytest.mark.gpu
def test_fit_on_cuda_transforms_on_cpu():
    X = make_block_sparse(500, 100, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = L1AEEncoder(n_components=20, max_epochs=3, device="cuda", random_state=0).fit(X)
    assert isinstance(est.components_, np.ndarray)
    restored = pickle.loads(pickle.dumps(est))
    restored.set_params(device="cpu", decoder="unrolled")
    Y = restored.transform(X[:10])
    gpu = est.set_params(decoder="unrolled").inverse_transform(Y)
    cpu = restored.inverse_transform(Y)
    np.testing.assert_allclose(gpu, cpu, rtol=1e-4, atol=1e-5)


# ------------------------------------------------ rescue, schedules, time limit
def test_diverging_epoch_is_rescued_once_with_a_warning():
    # lr=1.5 doubles |p| every step (batches of one row: 20 steps per epoch), so
    # the float32 loss p**2 overflows at step 65, in epoch 4. The rescue restores
    # the weights of the lowest-loss epoch (the first: p = 2**20) and divides lr by
    # 10, after which p shrinks by 0.7 per step.
    est = ScalarEstimator(learning_rate=1.5, batch_size=1, max_epochs=30, n_iter_no_change=50)
    with pytest.warns(TrainingRescuedWarning, match="diverged at epoch 4") as record:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X20)
    assert sum(issubclass(w.category, TrainingRescuedWarning) for w in record) == 1
    assert est.n_rescues_ == 1
    assert est.learning_rate_curve_[:3] == [1.5] * 3
    assert est.learning_rate_curve_[3:] == [pytest.approx(0.15)] * 27
    assert len(est.loss_curve_) == est.n_iter_ == 30
    assert all(np.isfinite(est.loss_curve_))
    # The undone epoch is not in the curve; training resumed from p = 2**20.
    assert est.loss_curve_[3] == pytest.approx(np.mean(4.0**20 * 0.49 ** np.arange(20)), rel=1e-4)
    assert abs(est.p_) < 1e-3


def test_rescues_are_limited_then_the_error_is_raised():
    est = ScalarEstimator(learning_rate=1e30, max_epochs=50)
    with pytest.warns(TrainingRescuedWarning):
        with pytest.raises(TrainingDivergedError, match="after 4 rescues"):
            est.fit(X20)
    assert not hasattr(est, "n_rescues_")


def test_a_diverging_partial_fit_chunk_is_rerun_with_a_lower_rate_which_later_calls_keep():
    # lr=1.5 doubles |p| per step: over 80 one-row batches p**2 overflows to inf.
    # The chunk is rerun from p = 1 at lr 0.15 (p shrinks by 0.7 per step).
    est = ScalarEstimator(learning_rate=1.5, batch_size=1)
    with pytest.warns(TrainingRescuedWarning, match="partial_fit diverged on this chunk"):
        est.partial_fit(np.ones((80, 2)))
    assert est.n_rescues_ == 1 and est.n_optimizer_steps_ == 80
    assert est.p_ == pytest.approx(0.7**80, rel=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingRescuedWarning)
        est.partial_fit(np.ones((10, 2)))  # continues at the lowered rate, no new rescue
    assert est.learning_rate_curve_ == [pytest.approx(0.15)] * 2
    assert est.p_ == pytest.approx(0.7**90, rel=1e-3)
    assert est.n_rescues_ == 1 and est.n_iter_ == 2


def test_partial_fit_reruns_are_limited_and_leave_the_estimator_unchanged():
    est = ScalarEstimator(learning_rate=1e30)
    with pytest.warns(TrainingRescuedWarning):
        with pytest.raises(TrainingDivergedError, match="after 4 reruns"):
            est.partial_fit(X20)
    assert not hasattr(est, "p_")
    est = ScalarEstimator(learning_rate=0.1).partial_fit(X20)
    p_before = est.p_
    est.set_params(learning_rate=1e30)
    with pytest.warns(TrainingRescuedWarning):
        with pytest.raises(TrainingDivergedError):
            est.partial_fit(X20)
    assert est.p_ == p_before and est.n_iter_ == 1


def test_cosine_schedule_anneals_and_ends_without_convergence_warning():
    est = ScalarEstimator(learning_rate=0.1, max_epochs=8, lr_schedule="cosine")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X20)
    curve = est.learning_rate_curve_
    assert curve[0] < 0.1 and all(a > b for a, b in zip(curve, curve[1:], strict=False))
    assert curve[-1] == pytest.approx(0.0, abs=1e-12)


def test_plateau_schedule_cuts_the_rate_at_half_the_patience():
    # init=0: the loss is 0 from the start, so only the first epoch improves.
    est = ScalarEstimator(init=0.0, learning_rate=0.1, max_epochs=50, n_iter_no_change=4,
                          lr_schedule="plateau")
    est.fit(X20)
    assert est.n_iter_ == 5
    np.testing.assert_allclose(est.learning_rate_curve_, [0.1, 0.1, 0.1, 0.03, 0.03])


def test_max_time_stops_the_fit():
    est = ScalarEstimator(learning_rate=1e-9, max_epochs=10**7, n_iter_no_change=10**7,
                          max_time=0.2)
    with pytest.warns(ConvergenceWarning, match="max_time=0.2"):
        est.fit(X20)
    assert 1 <= est.n_iter_ < 10**7
    assert len(est.loss_curve_) == est.n_iter_


def test_auto_lengths_count_optimiser_steps():
    est = ScalarEstimator(batch_size=100, max_epochs="auto", n_iter_no_change="auto")
    plan = est._training_plan(n_train=6400)  # 64 steps per epoch
    assert plan.max_epochs == 47 and plan.n_iter_no_change == 8
    assert est._training_plan(n_train=10**6).max_epochs == 5  # at least 5 epochs
    assert est._training_plan(n_train=50).max_epochs == 1000  # at most 1000


def _optimise(optimizer, parameters, n_steps=20):
    """Quadratic steps; the second parameter has no gradient on odd steps."""
    for step in range(n_steps):
        optimizer.zero_grad()
        loss = ((parameters[0] - step) ** 2).sum()
        if step % 2 == 0:
            loss = loss + (parameters[1] ** 3).sum()
        loss.backward()
        optimizer.step()
    return [p.detach().clone() for p in parameters]


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_optimisers_update_as_torch_optim_and_load_its_state(name):
    torch.manual_seed(0)
    starts = [torch.randn(50), torch.randn(4, 3)]

    def fresh():
        return [nn.Parameter(start.clone()) for start in starts]

    torch_class = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[name]
    ours, theirs = fresh(), fresh()
    optimizer = Optimizer(name, ours, 0.01)
    reference = torch_class(theirs, lr=0.01, fused=True)
    assert optimizer.fused
    # Bit for bit torch's fused update, parameters without a gradient left alone.
    for got, expected in zip(_optimise(optimizer, ours), _optimise(reference, theirs),
                             strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    assert len(optimizer.state) == (2 if name == "adam" else 0)
    # The foreach form (devices without a fused kernel): the same update up to rounding.
    foreach = Optimizer(name, fresh(), 0.01)
    foreach.fused = False
    torch_params = fresh()
    for got, expected in zip(_optimise(foreach, foreach.params), _optimise(
            torch_class(torch_params, lr=0.01, foreach=True), torch_params), strict=True):
        torch.testing.assert_close(got, expected)
    # A state saved by torch.optim (an estimator pickled before) continues as torch would.
    continued = [nn.Parameter(p.detach().clone()) for p in theirs]
    resumed = Optimizer(name, continued, 0.5)
    resumed.load_state_dict(reference.state_dict())
    assert resumed.param_groups[0]["lr"] == 0.01
    for got, expected in zip(_optimise(resumed, continued), _optimise(reference, theirs),
                             strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    # ... and the reverse: torch.optim (an earlier skunroll) continues this class's state.
    ours_continued = [nn.Parameter(p.detach().clone()) for p in ours]
    torch_continued = [nn.Parameter(p.detach().clone()) for p in ours]
    mine = Optimizer(name, ours_continued, 0.5)
    mine.load_state_dict(optimizer.state_dict())
    back = torch_class(torch_continued, lr=0.5, fused=True)
    back.load_state_dict(optimizer.state_dict())
    for got, expected in zip(_optimise(mine, ours_continued),
                             _optimise(back, torch_continued), strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    if name == "adam":
        # The foreach form counts steps on the host, as torch does (no device sync).
        assert all(s["step"].device.type == "cpu" for s in foreach.state.values())
        with pytest.raises(ValueError, match="does not match"):
            Optimizer(name, [nn.Parameter(torch.zeros(5)), nn.Parameter(torch.zeros(4, 3))],
                      0.01).load_state_dict(optimizer.state_dict())
    meta = nn.Parameter(torch.empty(3, device="meta"))
    assert not Optimizer(name, [meta], 0.01).fused
    with pytest.raises(ValueError, match="real floating-point"):
        Optimizer(name, [nn.Parameter(torch.zeros(3, dtype=torch.complex64))], 0.01)
    with pytest.raises(ValueError, match="one device and one dtype"):
        Optimizer(name, [nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(2).double())],
                  0.01)
    with pytest.raises(ValueError, match="not one of"):
        Optimizer("rmsprop", ours, 0.01)


def test_training_does_not_import_the_compiler():
    """torch.optim's first step imports torch._dynamo (seconds); the fits' optimiser does not."""
    code = ("import sys, numpy as np; from skunroll import L1AEEncoder; "
            "from skunroll.sparse_coding import DeepL0Classifier; "
            "X = np.random.default_rng(0).random((60, 12)); "
            "L1AEEncoder(n_components=4, max_epochs=2).fit(X); "
            "DeepL0Classifier(n_components=8, max_epochs=2).fit(X, X[:, 0] > 0.5); "
            "print('torch._dynamo' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


def test_state_snapshots_are_independent_copies_that_load_back():
    module = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    state = snapshot(module)
    expected = {name: value.clone() for name, value in module.state_dict().items()}
    assert list(state) == list(expected)
    assert state._metadata == module.state_dict()._metadata
    with torch.no_grad():
        module[0].weight.add_(1.0)
    module[1].num_batches_tracked += 1
    for name, value in expected.items():
        assert torch.equal(state[name], value), name
    module.load_state_dict(state)
    for name, value in module.state_dict().items():
        assert torch.equal(value, expected[name]), name


def test_an_estimator_declares_its_own_step_budget():
    class ShortBudget(ScalarEstimator):
        _auto_steps = 640

    plan = ShortBudget(batch_size=100, max_epochs="auto")._training_plan(n_train=6400)
    assert plan.max_epochs == 10
    assert "about 640 optimiser steps" in training_parameters_doc(ShortBudget)
    assert "about 3,000 optimiser steps" in training_parameters_doc(ScalarEstimator)


# ---------------------------------------------------------------- threads
class ThreadSpy(ScalarEstimator):
    def _batch_loss(self, module, X_batch, y_batch, side_batch):
        self.threads_seen_ = torch.get_num_threads()
        return super()._batch_loss(module, X_batch, y_batch, side_batch)


def _fit_and_report(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X20)
    return estimator.threads_seen_, torch.get_num_threads()


def test_threads_capped_inside_thread_pool_workers_and_restored():
    from joblib import Parallel, delayed

    before = torch.get_num_threads()
    results = Parallel(n_jobs=2, backend="threading")(
        delayed(_fit_and_report)(ThreadSpy(max_epochs=2)) for _ in range(4))
    assert all(seen == 1 for seen, _ in results)
    assert torch.get_num_threads() == before


def test_threads_follow_threadpoolctl_limits_and_are_restored():
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    with threadpool_limits(1):
        seen, _ = _fit_and_report(ThreadSpy(max_epochs=2))
    assert seen == 1
    assert torch.get_num_threads() == before
    seen, after = _fit_and_report(ThreadSpy(max_epochs=2))
    assert seen == min(before, __import__("joblib").cpu_count()) and after == before


def test_threads_in_process_workers_stay_within_their_share():
    from joblib import Parallel, cpu_count, delayed

    results = Parallel(n_jobs=2)(delayed(_fit_and_report)(ThreadSpy(max_epochs=2))
                                 for _ in range(2))
    assert all(seen <= max(1, cpu_count() // 2) for seen, _ in results)


def _blas_threads():
    from threadpoolctl import threadpool_info

    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def test_one_blas_thread_in_the_main_thread_only_and_restored():
    import threading

    from skunroll.utils._threads import single_blas_thread

    before = _blas_threads()
    with single_blas_thread():
        assert _blas_threads() == [1] * len(before)
        with single_blas_thread():
            assert _blas_threads() == [1] * len(before)
    assert _blas_threads() == before
    # In a worker thread the process-wide limits are left alone: blocks that
    # overlap there would restore each other's limits out of order.
    seen = []

    def worker():
        with single_blas_thread():
            seen.append(_blas_threads())

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(20)
    assert seen == [before] and _blas_threads() == before


def test_deep_l0_fits_in_a_thread_pool_leave_blas_threads_as_they_were():
    from joblib import Parallel, delayed

    from skunroll.sparse_coding import DeepL0Encoder

    X = np.random.RandomState(0).rand(300, 16)
    before = _blas_threads()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        Parallel(n_jobs=2, backend="threading")(
            delayed(DeepL0Encoder(n_components=8, max_epochs=1, random_state=seed).fit)(X)
            for seed in range(6))
    assert _blas_threads() == before


def test_partial_fit_streams_from_a_memmap_and_a_parquet_file(tmp_path):
    """Chunks read from disk train exactly as the same chunks in memory."""
    from skunroll import L1AEEncoder

    rng = np.random.RandomState(0)
    X = (rng.uniform(size=(256, 30)) * (rng.uniform(size=(256, 30)) < 0.2)).astype(np.float32)
    params = dict(n_components=8, batch_size=32, shuffle=False, device="cpu", random_state=0)
    in_memory = L1AEEncoder(**params)
    for start in range(0, 256, 64):
        in_memory.partial_fit(X[start:start + 64])

    path = tmp_path / "rows.dat"
    X.tofile(path)
    rows = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)
    from_memmap = L1AEEncoder(**params)
    for start in range(0, 256, 64):
        from_memmap.partial_fit(rows[start:start + 64])
    np.testing.assert_array_equal(from_memmap.components_, in_memory.components_)

    pyarrow = pytest.importorskip("pyarrow")
    parquet = pytest.importorskip("pyarrow.parquet")
    table = pyarrow.table({f"x{i}": X[:, i] for i in range(30)})
    parquet.write_table(table, tmp_path / "rows.parquet", row_group_size=64)
    from_parquet = L1AEEncoder(**params)
    for batch in parquet.ParquetFile(tmp_path / "rows.parquet").iter_batches(batch_size=64):
        columns = [column.to_numpy() for column in batch.columns]
        from_parquet.partial_fit(np.column_stack(columns).astype(np.float32))
    np.testing.assert_array_equal(from_parquet.components_, in_memory.components_)
    assert from_parquet.n_iter_ == 4 and from_parquet.n_optimizer_steps_ == 8


# ------------------------------------------------------------------ Ctrl-C
def _interrupt_after(seconds):
    import _thread
    import threading

    timer = threading.Timer(seconds, _thread.interrupt_main)
    timer.start()
    return timer


@pytest.mark.parametrize("early_stopping", [True, False])
def test_ctrl_c_during_fit_keeps_the_work(early_stopping):
    from skunroll.datasets import make_block_sparse

    X = make_block_sparse(2000, 200, random_state=0)
    timers = []

    def interrupt_soon(record):
        # Ctrl-C once training runs, however long the set-up took (before
        # training, Ctrl-C raises as usual).
        if not timers:
            timers.append(_interrupt_after(0.2))

    encoder = L1AEEncoder(20, max_epochs=100000, n_iter_no_change=100000, batch_size=8,
                          early_stopping=early_stopping, device="cpu", random_state=0,
                          callbacks=[interrupt_soon])
    try:
        with pytest.warns(ConvergenceWarning, match="interrupted"):
            encoder.fit(X)
    finally:
        for timer in timers:
            timer.cancel()
    assert 1 <= encoder.n_iter_ < 100000 and len(encoder.loss_curve_) == encoder.n_iter_
    assert np.all(np.isfinite(encoder.components_))
    if early_stopping:  # the weights kept are the best validated ones
        assert encoder.best_validation_score_ == max(encoder.validation_scores_)
    encoder.transform(X[:5])  # fitted and usable


@pytest.mark.slow
def test_ctrl_c_during_partial_fit_keeps_the_steps_taken():
    from skunroll.datasets import make_block_sparse

    X = make_block_sparse(200000, 200, random_state=0)
    encoder = L1AEEncoder(20, batch_size=4, device="cpu", random_state=0)
    # Late enough for the set-up on a loaded machine; the pass takes minutes.
    timer = _interrupt_after(5.0)
    try:
        with pytest.warns(ConvergenceWarning, match="partial_fit interrupted"):
            encoder.partial_fit(X)
    finally:
        timer.cancel()
    assert encoder.n_iter_ == 1 and 0 < encoder.n_optimizer_steps_ < 200000 // 4
    encoder.partial_fit(X[:100])  # and the stream goes on


# ------------------------------------------------------ logging and callbacks
def test_callbacks_see_every_epoch_and_can_stop_training():
    records = []

    def stop_at_third(record):
        records.append(record)
        return record["epoch"] == 3

    est = ScalarEstimator(max_epochs=10, early_stopping=True)
    est.callbacks = [stop_at_third]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # stopping on request is not a warning
        est.fit(X20)
    assert est.n_iter_ == 3 and [r["epoch"] for r in records] == [1, 2, 3]
    assert records[0]["train_loss"] == est.loss_curve_[0]
    assert records[0]["validation_loss"] == -est.validation_scores_[0]
    assert records[2]["n_optimizer_steps"] == est.n_optimizer_steps_
    assert records[0]["estimator"] is est and records[0]["seconds"] >= 0


def test_verbose_goes_through_the_skunroll_logger_and_partial_fit_reports(caplog):
    import logging

    est = L1AEEncoder(5, batch_size=16, device="cpu", random_state=0, verbose=1,
                      callbacks=[lambda record: None])
    X = np.abs(np.random.RandomState(0).normal(size=(64, 12)))
    with caplog.at_level(logging.INFO, logger="skunroll"):
        est.partial_fit(X)
        est.partial_fit(X)
    messages = [r.getMessage() for r in caplog.records if r.name == "skunroll"]
    assert messages[0].startswith("partial_fit call 1: train loss")
    assert messages[1].startswith("partial_fit call 2:")


@pytest.mark.slow
def test_verbose_prints_to_stdout_while_logging_is_not_configured():
    import subprocess
    import sys

    code = ("import numpy as np; from skunroll import L1AEEncoder; "
            "L1AEEncoder(4, max_epochs=2, device='cpu', verbose=1, random_state=0)"
            ".fit(np.abs(np.random.RandomState(0).normal(size=(40, 10))))")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                         text=True, check=True).stdout
    assert [line for line in out.splitlines() if line.startswith("Epoch")][1].startswith("Epoch 2")



def test_verbose_2_shows_progress_within_an_epoch(caplog, monkeypatch, capsys):
    import logging
    import sys

    est = ScalarEstimator(max_epochs=1, verbose=2, batch_size=2)
    monkeypatch.setitem(sys.modules, "tqdm", None)  # no tqdm: plain lines with rate and ETA
    with warnings.catch_warnings(), caplog.at_level(logging.INFO, logger="skunroll"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X20)
    steps = [r.getMessage() for r in caplog.records if "steps/s" in r.getMessage()]
    assert steps[-1].startswith("ScalarEstimator: step 10/10") and steps[-1].endswith("s left")
    monkeypatch.delitem(sys.modules, "tqdm")
    pytest.importorskip("tqdm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X20)
    assert "ScalarEstimator" in capsys.readouterr().err  # the bar
