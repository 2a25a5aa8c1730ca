"""The epoch loop's machinery: one run's optimiser, schedule, rescue; batches; history."""

import contextlib
import copy
import functools
import math
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from ..exceptions import TrainingDivergedError, TrainingRescuedWarning
from ..utils._device import resolve_device, torch_generator
from ..utils._logging import report
from ..utils._progress import step_progress
from ._optim import Optimizer
from ._plan import (
    MAX_RESCUES,
    RESCUE_FACTOR,
    AdaptiveGradientClipper,
    LearningRate,
)


@dataclass
class History:
    """The per-epoch curves a fit records (continued by a warm start)."""

    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    learning_rate_curve: list = field(default_factory=list)

    @classmethod
    def continuing(cls, estimator):
        return cls(list(estimator.loss_curve_), list(estimator.validation_scores_ or []),
                   list(getattr(estimator, "learning_rate_curve_", [])))


@dataclass
class Fitted:
    """What :meth:`Run.train_epochs` ends with."""

    history: History
    n_iter: int
    best: float  # the watched loss of the weights kept
    stop: str | None  # "converged", "max_time" or None (max_epochs)


class Run:
    """One training run's optimiser, schedule, clipping and divergence rescue."""

    def __init__(self, estimator, plan, module, device, steps_per_epoch):
        self.estimator, self.plan, self.module, self.device = estimator, plan, module, device
        self.schedule = LearningRate(plan, steps_per_epoch)
        self._new_optimizer()
        # A diverging epoch is rolled back to the weights of the epoch with the
        # lowest training loss (the starting weights before any epoch).
        self.good_state = snapshot(module) if plan.rescue else None
        self.lowest_loss = math.inf
        self.n_rescues = 0
        self.deadline = None if plan.max_time is None else time.perf_counter() + plan.max_time
        self.epoch_first_step = 0
        self.n_steps = 0
        self.interrupted = False  # Ctrl-C asked to stop: the loop ends after the current step

    @contextlib.contextmanager
    def interruptible(self):
        """While training, Ctrl-C (SIGINT) sets ``interrupted`` instead of raising.

        The step under way completes and the loop stops there, so the weights
        are never left half-updated; a second Ctrl-C raises at once. Only the
        main thread receives signals: elsewhere (joblib workers) nothing changes.
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def request_stop(signum, frame):
            if self.interrupted:
                signal.signal(signal.SIGINT, previous)
                raise KeyboardInterrupt
            self.interrupted = True

        previous = signal.signal(signal.SIGINT, request_stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def state(self):
        """What a later :meth:`restore` needs to continue these steps, as NumPy arrays.

        NumPy, not tensors: the estimator then pickles and saves with skops
        between ``partial_fit`` calls, with no GPU and no torch types in it.
        """
        to_numpy = functools.partial(_map_values, torch.Tensor,
                                     lambda tensor: tensor.detach().cpu().numpy().copy())
        state = {"optimizer": to_numpy(self.optimizer.state_dict()), "step": self.schedule.step}
        if self.clipper is not None:
            state["clipper"] = (to_numpy(self.clipper.history), self.clipper.n_steps)
        return state

    def restore(self, state, device):
        """Continue from :meth:`state` (optimiser moments, step count, clipping history)."""
        to_device = functools.partial(_map_values, np.ndarray,
                                      lambda array: torch.from_numpy(np.array(array)).to(device))
        self.optimizer.load_state_dict(to_device(state["optimizer"]))
        self.schedule.step = state["step"]
        if self.clipper is not None and "clipper" in state:
            history, n_steps = state["clipper"]
            self.clipper.history = to_device(history)
            self.clipper.n_steps = n_steps

    def _new_optimizer(self):
        self.optimizer = Optimizer(self.plan.optimizer, self.module.parameters(),
                                   self.schedule.value)
        self.clipper = AdaptiveGradientClipper(self.device) if self.plan.clip_gradients else None

    def epoch(self, sources, order):
        """One pass over ``sources`` in ``order``: ``(mean training loss, stopped early)``.

        A pass stops early at ``max_time`` or when Ctrl-C set ``interrupted``.
        """
        estimator, module = self.estimator, self.module
        module.train()
        total = torch.zeros((), device=self.device)
        n_seen = 0
        self.epoch_first_step = self.schedule.step
        timed_out = False
        # Loss is accumulated on the device: one host sync per epoch.
        batches = paired_batches(sources, estimator.batch_size, order)
        if estimator.verbose >= 2:
            batches = step_progress(batches, math.ceil(len(order) / estimator.batch_size),
                                    type(estimator).__name__)
        for n_rows, *batch in batches:
            self.schedule.before_step(self.optimizer)
            loss = estimator._batch_loss(module, *batch)
            self.optimizer.zero_grad()
            loss.backward()
            if self.clipper is not None:
                self.clipper.clip(module.parameters())
            self.optimizer.step()
            self.n_steps += 1
            with torch.no_grad():
                estimator._after_step(module)
            total += loss.detach() * n_rows
            n_seen += n_rows
            if self.interrupted or (self.deadline is not None
                                    and time.perf_counter() >= self.deadline):
                timed_out = True
                break
        return float(total) / n_seen, timed_out

    def rescue(self, train_loss, global_epoch):
        """Undo a diverged epoch (lowest-loss weights, a 10x lower step), or raise."""
        name = type(self.estimator).__name__
        if not (self.plan.rescue and self.n_rescues < MAX_RESCUES):
            rescued = f" after {self.n_rescues} rescues" if self.plan.rescue else ""
            raise TrainingDivergedError(
                f"Training diverged at epoch {global_epoch + 1}{rescued}: the training loss "
                f"is {train_loss}. Lower learning_rate (now {self.plan.learning_rate}) or "
                "check the scale of X. The estimator was left unchanged."
            )
        lowered = self.schedule.lower(RESCUE_FACTOR, restart_at=self.epoch_first_step)
        if self.n_rescues == 0:
            warnings.warn(
                f"{name}: training diverged at epoch {global_epoch + 1} "
                f"(training loss {train_loss:.4g}); restored the weights of the epoch "
                f"with the lowest training loss and lowered the learning rate to "
                f"{lowered:.3g}. "
                "learning_rate_curve_ and n_rescues_ record what was done.",
                TrainingRescuedWarning, stacklevel=2,
            )
        self.module.load_state_dict(self.good_state)
        self._new_optimizer()
        self.n_rescues += 1

    def train_epochs(self, train_source, val_source, rng, n_train, *, warm):
        """The epoch loop: early stopping, best-weight restore, rescue and logging.

        Returns the :class:`Fitted` outcome; the module ends on the kept weights.
        """
        estimator = self.estimator
        history = History.continuing(estimator) if warm else History()
        epoch_offset = estimator.n_iter_ if warm else 0
        best_monitored, best_state = np.inf, None
        if warm and val_source is not None:
            # A continued fit never ends on weights worse than those it started from.
            best_monitored = self.evaluate(val_source)
            best_state = snapshot(self.module)
        no_improvement = 0
        stop = None  # "converged", "max_time", "interrupted" or "callback" once decided

        epoch = 0
        while epoch < self.plan.max_epochs:
            if self.interrupted:  # Ctrl-C between two epochs
                stop = "interrupted"
                break
            start = time.perf_counter()
            global_epoch = epoch_offset + epoch
            estimator._on_epoch_start(self.module, global_epoch)
            order = rng.permutation(n_train) if self.plan.shuffle else np.arange(n_train)
            train_loss, stopped = self.epoch(train_source, order)
            stop = ("interrupted" if self.interrupted else "max_time") if stopped else None
            if not math.isfinite(train_loss):
                self.rescue(train_loss, global_epoch)
                stop = None
                continue
            history.loss_curve.append(train_loss)
            history.learning_rate_curve.append(self.schedule.value)

            if val_source is not None:
                val_loss = self.evaluate(val_source)
                history.validation_scores.append(-val_loss)
                monitored = val_loss
            else:
                monitored = train_loss

            # tol decides patience only; the best weights are kept whatever the margin.
            improved = monitored < best_monitored - self.plan.tol
            no_improvement = 0 if improved else no_improvement + 1
            if monitored < best_monitored:
                best_monitored = monitored
                if val_source is not None:
                    best_state = snapshot(self.module)
            self.remember_if_lowest(train_loss)

            record = {"epoch": global_epoch + 1, "train_loss": train_loss,
                      "validation_loss": val_loss if val_source is not None else None,
                      "learning_rate": self.schedule.value,
                      "seconds": time.perf_counter() - start, "n_optimizer_steps": self.n_steps,
                      "estimator": estimator}
            if estimator.verbose:
                report(epoch_message(record))
            epoch += 1
            if call_back(estimator, record):
                stop = "callback"

            if stop in ("max_time", "interrupted", "callback"):
                break
            if no_improvement >= self.plan.n_iter_no_change:
                stop = "converged"
                if estimator.verbose:
                    watched = "Validation" if val_source is not None else "Training"
                    report(f"{watched} loss did not improve more than tol={self.plan.tol} for "
                           f"{self.plan.n_iter_no_change} consecutive epochs. Stopping.")
                break
            self.schedule.after_epoch(no_improvement)

        if best_state is not None:
            self.module.load_state_dict(best_state)
        return Fitted(history, epoch_offset + epoch, best_monitored, stop)

    def evaluate(self, sources):
        """Mean per-sample loss of the module over all rows of ``sources``."""
        estimator, module = self.estimator, self.module
        module.eval()
        x_source = sources[0]
        total = torch.zeros((), device=x_source.device)
        with torch.no_grad():
            batch_rows = estimator._inference_rows(x_source.width)
            for n_rows, *batch in paired_batches(sources, batch_rows):
                total += estimator._batch_loss(module, *batch) * n_rows
        return float(total) / x_source.n_samples

    def remember_if_lowest(self, train_loss):
        if self.plan.rescue and train_loss <= self.lowest_loss:
            self.lowest_loss = train_loss
            self.good_state = snapshot(self.module)


def snapshot(module):
    """A copy of ``module``'s state to restore later with ``load_state_dict``.

    Cloning each tensor does what ``copy.deepcopy`` of the state dict does
    for a module whose state is tensors only, without deepcopy's
    per-object bookkeeping (a snapshot is taken after most epochs).
    """
    state = module.state_dict()
    copied = type(state)((name, value.detach().clone() if isinstance(value, torch.Tensor)
                          else copy.deepcopy(value)) for name, value in state.items())
    # load_state_dict reads the modules' versions from here.
    copied._metadata = copy.deepcopy(getattr(state, "_metadata", None))
    return copied


def _map_values(kind, function, value):
    """``value`` with ``function`` applied to every ``kind`` in nested dicts / lists."""
    if isinstance(value, kind):
        return function(value)
    if isinstance(value, dict):
        return {key: _map_values(kind, function, item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_map_values(kind, function, item) for item in value)
    return value


def paired_batches(sources, batch_size, order=None):
    """Yield ``(n_rows, X_batch, y_batch, side_batch)``; absent sources give None."""
    x_source = sources[0]
    if order is None:
        order = np.arange(x_source.n_samples)
    # Dense sources live on the device: their row order is copied there once per
    # epoch, not once per batch (a host-to-device copy per step stalls a GPU).
    order_on_device = torch.as_tensor(order, device=x_source.device)
    for start in range(0, x_source.n_samples, batch_size):
        stop = start + batch_size
        batches = [
            source.batch(order_on_device[start:stop] if source.is_dense else order[start:stop])
            if source is not None else None
            for source in sources
        ]
        yield (min(stop, x_source.n_samples) - start, *batches)


def all_finite(value):
    if isinstance(value, dict):
        return all(all_finite(v) for v in value.values())
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        return bool(np.all(np.isfinite(value)))
    if isinstance(value, float):
        return math.isfinite(value)
    return True


def one_pass(estimator, X, y, side, *, continuing, scale):
    """``(module, run, training loss)`` of one ``partial_fit`` pass from the state
    before this chunk (the estimator is not changed)."""
    device = resolve_device(estimator.device)
    generator, rng = torch_generator(estimator.random_state)
    if continuing:
        module = estimator._module_from_attributes()
    else:
        module = estimator._build_module(X, generator, y=y, side=side)
    module = module.to(device)
    # The chunks of a stream are all part of one pass: per-epoch schedules
    # (deep l0's sigma) keep their first epoch's value.
    estimator._on_epoch_start(module, 0)
    n_rows = X.shape[0]
    plan = estimator._training_plan(n_rows)
    plan = replace(plan, learning_rate=plan.learning_rate * scale, lr_schedule="constant",
                   rescue=False, max_time=None)
    run = Run(estimator, plan, module, device, math.ceil(n_rows / estimator.batch_size))
    if continuing and estimator._optimizer_state is not None:
        run.restore(estimator._optimizer_state, device)
    if plan.shuffle:
        # A new order per call, reproducible from the seed and the call count.
        calls = estimator.n_iter_ if continuing else 0
        order = np.random.RandomState(rng.randint(2**31 - 1) + calls).permutation(n_rows)
    else:
        order = np.arange(n_rows)
    sources = estimator._sources((X, y, side), device)
    with run.interruptible():
        train_loss, _ = run.epoch(sources, order)
    return module, run, train_loss


def epoch_message(record):
    """The ``verbose`` line of one epoch (or one ``partial_fit`` call)."""
    message = f"Epoch {record['epoch']}: train loss {record['train_loss']:.6g}"
    if record["validation_loss"] is not None:
        message += f", validation loss {record['validation_loss']:.6g}"
    return f"{message}, lr {record['learning_rate']:.3g}, {record['seconds']:.2f}s"


def call_back(estimator, record):
    """Call the estimator's ``callbacks`` with ``record``; True if one asks to stop."""
    stop = False
    for callback in getattr(estimator, "callbacks", None) or ():
        stop = bool(callback(dict(record))) or stop
    return stop


def warn_on_stop(name, stop, plan, n_epochs):
    """The ConvergenceWarning for a run that ended otherwise than by converging."""
    if stop == "interrupted":
        warnings.warn(
            f"{name}: training interrupted (Ctrl-C) in epoch {n_epochs}; the "
            "estimator is fitted with the best weights so far (press Ctrl-C twice to abort "
            "the fit instead).", ConvergenceWarning, stacklevel=2,
        )
    elif stop == "max_time":
        warnings.warn(
            f"{name} stopped after max_time={plan.max_time} s, in epoch "
            f"{n_epochs}.", ConvergenceWarning, stacklevel=2,
        )
    elif stop is None and plan.lr_schedule != "cosine":
        # A cosine schedule ends at max_epochs by design (its step has reached 0).
        warnings.warn(
            f"{name} stopped after max_epochs={plan.max_epochs} epochs and "
            "the loss was still improving. Consider increasing max_epochs.",
            ConvergenceWarning, stacklevel=2,
        )
