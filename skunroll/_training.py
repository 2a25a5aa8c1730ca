"""The one training loop every skunroll estimator uses.

:class:`BaseTorchEstimator` holds the parameters shared by all trained
estimators (optimiser, schedule, batching, early stopping, time limit, device,
seeding) and the loop that trains a torch module with them. A subclass
supplies four things:

- ``_build_module(X, generator, y=None)``: a fresh module for the training
  data ``X`` (and targets ``y``, if any);
- ``_module_from_attributes()``: the module rebuilt from fitted attributes
  (used by ``warm_start``);
- ``_batch_loss(module, X_batch, y_batch)``: the mean loss of one dense batch
  (``y_batch`` is None for unsupervised training);
- ``_attributes_from_module(module)``: the learned state as numpy arrays.

Optional hooks ``_on_epoch_start(module, epoch)`` and ``_after_step(module)``
cover schedules (annealing) and constraints (projections);
``_training_plan(n_train)`` resolves the ``"auto"`` settings (an estimator
with a recipe switch adjusts the plan there).

What keeps a fit from failing on data nobody tuned it for:

- divergence rescue: an epoch whose training loss is not finite is undone
  (the weights of the epoch with the lowest training loss are restored),
  the learning rate is divided by 10 and the epoch is run again; one
  :class:`~skunroll.exceptions.TrainingRescuedWarning` says so,
  ``n_rescues_`` and ``learning_rate_curve_`` record it, and after 4 rescues
  :class:`~skunroll.exceptions.TrainingDivergedError` is raised. (A loss
  that grows while staying finite is left to the gradient clipping and to
  early stopping, which keeps the best weights: any finite threshold of
  "exploding" misfires on losses near 0.)
- adaptive gradient clipping (where the plan asks for it): each step's
  gradient norm is capped at 5x the median of the last 100 norms, a scale-free
  rule (AutoClip, Seetharaman et al. 2020) that only cuts spikes;
- bounded time: ``max_epochs="auto"`` and ``n_iter_no_change="auto"`` count
  optimiser steps, not epochs (about 3,000 steps to train, 500 without
  improvement to stop), ``lr_schedule`` ("plateau", "cosine") and
  ``max_time`` in seconds;
- threads: torch runs with at most the threads the call is entitled to
  (:mod:`skunroll.utils._threads`), restored afterwards.
"""

import copy
import math
import time
import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions

from .exceptions import TrainingDivergedError, TrainingRescuedWarning
from .utils._batching import BatchSource
from .utils._device import resolve_device, torch_generator
from .utils._threads import torch_threads
from .utils._validation import atomic_fit

_OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}
LR_SCHEDULES = ("constant", "plateau", "cosine")

# max_epochs="auto": about AUTO_STEPS optimiser steps, within these bounds.
AUTO_STEPS = 3000
AUTO_MIN_EPOCHS, AUTO_MAX_EPOCHS = 5, 1000
# n_iter_no_change="auto": about AUTO_PATIENCE_STEPS steps without improvement.
AUTO_PATIENCE_STEPS = 500
AUTO_MIN_PATIENCE, AUTO_MAX_PATIENCE = 3, 50

_RESCUE_FACTOR = 0.1    # learning rate multiplier after a rescue
_MAX_RESCUES = 4
_PLATEAU_FACTOR = 0.3   # the IVY reference's decay factor
_CLIP_FACTOR, _CLIP_WINDOW = 5.0, 100


@dataclass(frozen=True)
class TrainingPlan:
    """The resolved settings of one training run (no ``"auto"`` left)."""

    optimizer: str
    learning_rate: float
    max_epochs: int
    n_iter_no_change: int
    tol: float
    lr_schedule: str
    max_time: float | None
    clip_gradients: bool
    rescue: bool


class _LearningRate:
    """The learning rate of a run: schedule, plateau cuts and rescues.

    ``"constant"`` keeps it; ``"plateau"`` multiplies it by 0.3 each time the
    watched loss has not improved for half the patience; ``"cosine"`` anneals
    it per step from its value to 0 over ``max_epochs``.
    """

    def __init__(self, plan, steps_per_epoch):
        self.base = plan.learning_rate
        self.kind = plan.lr_schedule
        self.total_steps = max(1, plan.max_epochs * steps_per_epoch)
        self.plateau_patience = max(1, plan.n_iter_no_change // 2)
        self.step = 0

    @property
    def value(self):
        value = self.base
        if self.kind == "cosine":
            value *= 0.5 * (1.0 + math.cos(math.pi * min(self.step, self.total_steps)
                                           / self.total_steps))
        return value

    def before_step(self, optimizer):
        value = self.value
        for group in optimizer.param_groups:
            group["lr"] = value
        self.step += 1

    def after_epoch(self, no_improvement):
        if self.kind == "plateau" and no_improvement and no_improvement % self.plateau_patience == 0:
            self.base *= _PLATEAU_FACTOR

    def lower(self, factor, restart_at):
        """Scale the rate (a rescue) and rewind the schedule to step ``restart_at``."""
        self.base *= factor
        self.step = restart_at
        return self.value


class _AdaptiveGradientClipper:
    """Cap the gradient norm at 5x the median of the last 100 norms (on the device)."""

    def __init__(self, device):
        self.history = torch.full((_CLIP_WINDOW,), float("nan"), device=device)
        self.n_steps = 0

    def clip(self, parameters):
        grads = [p.grad for p in parameters if p.grad is not None]
        if not grads:
            return
        norm = torch.linalg.vector_norm(torch.stack([g.detach().norm() for g in grads]))
        threshold = _CLIP_FACTOR * torch.nanmedian(self.history)
        # No history yet (nan threshold): leave the first step alone.
        scale = torch.where(torch.isnan(threshold), torch.ones_like(norm),
                            torch.clamp(threshold / (norm + 1e-12), max=1.0))
        for grad in grads:
            grad.mul_(scale)
        self.history[self.n_steps % _CLIP_WINDOW] = norm
        self.n_steps += 1


class BaseTorchEstimator(BaseEstimator):
    """Base class for estimators trained by the shared torch loop.

    Not meant to be used directly. Subclasses list the shared parameters
    (``optimizer``, ``learning_rate``, ``batch_size``, ``max_epochs``,
    ``early_stopping``, ``validation_fraction``, ``n_iter_no_change``, ``tol``,
    ``lr_schedule``, ``max_time``, ``warm_start``, ``device``,
    ``random_state``, ``verbose``) in their own ``__init__`` with the defaults
    of the paper they implement.
    """

    _parameter_constraints = {
        "optimizer": [StrOptions(set(_OPTIMIZERS))],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "lr_schedule": [StrOptions({"auto", *LR_SCHEDULES})],
        "max_time": [Interval(Real, 0, None, closed="neither"), None],
        "warm_start": ["boolean"],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # ------------------------------------------------------------------ hooks
    def _build_module(self, X, generator, y=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def _module_from_attributes(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _batch_loss(self, module, X_batch, y_batch):  # pragma: no cover - abstract
        raise NotImplementedError

    def _attributes_from_module(self, module):  # pragma: no cover - abstract
        raise NotImplementedError

    def _on_epoch_start(self, module, epoch):
        """Called before each epoch; ``epoch`` counts from 0 across warm starts."""

    def _after_step(self, module):
        """Called after each optimiser step, under ``torch.no_grad``."""

    def _structure(self):
        """Parameters that shape the module; a warm start must keep them.

        Stored as ``_fitted_structure`` after training, so the module is
        rebuilt from what was fitted even if ``set_params`` changed them since.
        """
        return {}

    # ------------------------------------------------------------- contract
    @atomic_fit
    def fit(self, X, y=None):
        """Validate the parameters and ``X``, then train.

        If anything fails (bad input, a diverging run, an interrupt), the
        estimator is left exactly as it was before the call.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        if self._is_warm() and self._structure() != self._fitted_structure:
            raise ValueError(
                f"warm_start=True needs the network of the first fit ({self._fitted_structure}); "
                f"got {self._structure()}. Refit with warm_start=False."
            )
        with torch_threads():
            self._fit(X, y)
        return self

    def _fit(self, X, y=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def _is_warm(self):
        return self.warm_start and hasattr(self, "n_iter_")

    #: dtype of the targets handed to ``_train`` (float regression targets by default).
    _target_dtype = torch.float32

    # ----------------------------------------------------------------- loop
    def _training_plan(self, n_train):
        """The settings one training run uses, with every ``"auto"`` resolved.

        Subclasses with a recipe switch (``L1AEEncoder(recipe=...)``) adjust
        the plan returned here; the loop reads nothing else.
        """
        steps_per_epoch = max(1, math.ceil(n_train / self.batch_size))
        max_epochs = self.max_epochs
        if max_epochs == "auto":
            max_epochs = int(np.clip(math.ceil(AUTO_STEPS / steps_per_epoch),
                                     AUTO_MIN_EPOCHS, AUTO_MAX_EPOCHS))
        patience = self.n_iter_no_change
        if patience == "auto":
            patience = int(np.clip(math.ceil(AUTO_PATIENCE_STEPS / steps_per_epoch),
                                   AUTO_MIN_PATIENCE, AUTO_MAX_PATIENCE))
        schedule = "constant" if self.lr_schedule == "auto" else self.lr_schedule
        return TrainingPlan(optimizer=self.optimizer, learning_rate=float(self.learning_rate),
                            max_epochs=max_epochs, n_iter_no_change=patience, tol=self.tol,
                            lr_schedule=schedule, max_time=self.max_time,
                            clip_gradients=False, rescue=True)

    def _train(self, X, y=None):
        """Train on validated ``X`` (ndarray or CSR) and store the fitted state.

        ``y`` (optional, ndarray with one row per sample) holds the targets
        ``_batch_loss`` receives batch by batch, as ``_target_dtype`` tensors.

        Sets ``loss_curve_``, ``validation_scores_``, ``learning_rate_curve_``,
        ``best_loss_``, ``best_validation_score_``, ``n_iter_``, ``n_rescues_``
        and the attributes returned by ``_attributes_from_module``.
        """
        device = resolve_device(self.device)
        generator, rng = torch_generator(self.random_state)
        n_samples = X.shape[0]
        warm = self._is_warm()

        if self.early_stopping:
            n_val = int(math.ceil(self.validation_fraction * n_samples))
            if n_samples - n_val < 1:
                raise ValueError(
                    f"n_samples={n_samples} is too few to hold out validation_fraction="
                    f"{self.validation_fraction} for early stopping and still train; "
                    "pass more samples or set early_stopping=False."
                )
            permutation = rng.permutation(n_samples)
            val_idx, train_idx = np.sort(permutation[:n_val]), np.sort(permutation[n_val:])
            X_train, X_val = X[train_idx], X[val_idx]
            y_train, y_val = (y[train_idx], y[val_idx]) if y is not None else (None, None)
        else:
            X_train, X_val, y_train, y_val = X, None, y, None

        if warm:
            module = self._module_from_attributes()
        else:
            module = self._build_module(X_train, generator, y=y_train)
        module = module.to(device)
        n_train = X_train.shape[0]
        plan = self._training_plan(n_train)
        schedule = _LearningRate(plan, math.ceil(n_train / self.batch_size))
        optimizer = _OPTIMIZERS[plan.optimizer](module.parameters(), lr=schedule.value)
        clipper = _AdaptiveGradientClipper(device) if plan.clip_gradients else None

        train_source = self._sources(X_train, y_train, device)
        val_source = self._sources(X_val, y_val, device) if X_val is not None else None

        loss_curve = list(self.loss_curve_) if warm else []
        val_scores = list(self.validation_scores_ or []) if warm else []
        lr_curve = list(getattr(self, "learning_rate_curve_", [])) if warm else []
        epoch_offset = self.n_iter_ if warm else 0
        best_monitored = np.inf
        best_state = None
        if warm and val_source is not None:
            # A continued fit never ends on weights worse than those it started from.
            best_monitored = self._evaluate_loss(module, val_source)
            best_state = copy.deepcopy(module.state_dict())
        # A diverging epoch is rolled back to the weights of the epoch with the
        # lowest training loss (the starting weights before any epoch).
        good_state = copy.deepcopy(module.state_dict()) if plan.rescue else None
        lowest_loss = math.inf
        n_rescues = 0
        no_improvement = 0
        stop = None  # "converged" or "max_time" once decided
        deadline = None if plan.max_time is None else time.perf_counter() + plan.max_time

        epoch = 0
        while epoch < plan.max_epochs:
            start = time.perf_counter()
            global_epoch = epoch_offset + epoch
            self._on_epoch_start(module, global_epoch)
            module.train()
            total = torch.zeros((), device=device)
            n_seen = 0
            epoch_first_step = schedule.step
            # Loss is accumulated on the device: one host sync per epoch.
            for n_rows, X_batch, y_batch in _paired_batches(
                train_source, self.batch_size, rng.permutation(n_train)
            ):
                schedule.before_step(optimizer)
                loss = self._batch_loss(module, X_batch, y_batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if clipper is not None:
                    clipper.clip(module.parameters())
                optimizer.step()
                with torch.no_grad():
                    self._after_step(module)
                total += loss.detach() * n_rows
                n_seen += n_rows
                if deadline is not None and time.perf_counter() >= deadline:
                    stop = "max_time"
                    break
            train_loss = float(total) / n_seen
            diverged = not math.isfinite(train_loss)
            if diverged and plan.rescue and n_rescues < _MAX_RESCUES:
                # Roll back to the lowest-loss epoch, lower the step and try again.
                lowered = schedule.lower(_RESCUE_FACTOR, restart_at=epoch_first_step)
                if n_rescues == 0:
                    warnings.warn(
                        f"{type(self).__name__}: training diverged at epoch {global_epoch + 1} "
                        f"(training loss {train_loss:.4g}); restored the weights of the epoch "
                        f"with the lowest training loss and lowered the learning rate to "
                        f"{lowered:.3g}. "
                        "learning_rate_curve_ and n_rescues_ record what was done.",
                        TrainingRescuedWarning,
                    )
                module.load_state_dict(good_state)
                optimizer = _OPTIMIZERS[plan.optimizer](module.parameters(), lr=schedule.value)
                if clipper is not None:
                    clipper = _AdaptiveGradientClipper(device)
                n_rescues += 1
                stop = None
                continue
            if diverged:
                rescued = f" after {n_rescues} rescues" if plan.rescue else ""
                raise TrainingDivergedError(
                    f"Training diverged at epoch {global_epoch + 1}{rescued}: the training loss "
                    f"is {train_loss}. Lower learning_rate (now {self.learning_rate}) or check "
                    "the scale of X. The estimator was left unchanged."
                )
            loss_curve.append(train_loss)
            lr_curve.append(schedule.value)

            if val_source is not None:
                val_loss = self._evaluate_loss(module, val_source)
                val_scores.append(-val_loss)
                monitored = val_loss
            else:
                monitored = train_loss

            # tol decides patience only; the best weights are kept whatever the margin.
            if monitored < best_monitored - plan.tol:
                no_improvement = 0
            else:
                no_improvement += 1
            if monitored < best_monitored:
                best_monitored = monitored
                if val_source is not None:
                    best_state = copy.deepcopy(module.state_dict())
            if plan.rescue and train_loss <= lowest_loss:
                lowest_loss = train_loss
                good_state = copy.deepcopy(module.state_dict())

            if self.verbose:
                message = f"Epoch {global_epoch + 1}: train loss {train_loss:.6g}"
                if val_source is not None:
                    message += f", validation loss {val_loss:.6g}"
                print(f"{message}, lr {schedule.value:.3g}, {time.perf_counter() - start:.2f}s",
                      flush=True)
            epoch += 1

            if stop == "max_time":
                break
            if no_improvement >= plan.n_iter_no_change:
                stop = "converged"
                if self.verbose:
                    watched = "Validation" if val_source is not None else "Training"
                    print(
                        f"{watched} loss did not improve more than tol={plan.tol} for "
                        f"{plan.n_iter_no_change} consecutive epochs. Stopping.",
                        flush=True,
                    )
                break
            schedule.after_epoch(no_improvement)

        if stop == "max_time":
            warnings.warn(
                f"{type(self).__name__} stopped after max_time={plan.max_time} s, in epoch "
                f"{epoch_offset + epoch}.", ConvergenceWarning,
            )
        elif stop is None and plan.lr_schedule != "cosine":
            # A cosine schedule ends at max_epochs by design (its step has reached 0).
            warnings.warn(
                f"{type(self).__name__} stopped after max_epochs={plan.max_epochs} epochs and "
                "the loss was still improving. Consider increasing max_epochs.",
                ConvergenceWarning,
            )
        if best_state is not None:
            module.load_state_dict(best_state)

        attributes = self._attributes_from_module(module)
        for name, value in attributes.items():
            if not _all_finite(value):
                raise TrainingDivergedError(
                    f"Training produced non-finite values in {name}. The estimator was left unchanged."
                )
        for name, value in attributes.items():
            setattr(self, name, value)
        self._fitted_structure = self._structure()
        self.loss_curve_ = loss_curve
        self.validation_scores_ = val_scores if val_source is not None else None
        self.learning_rate_curve_ = lr_curve
        self.n_rescues_ = n_rescues + (getattr(self, "n_rescues_", 0) if warm else 0)
        # The score of the weights kept (restored), not just the best epoch seen.
        self.best_validation_score_ = -best_monitored if val_source is not None else None
        self.best_loss_ = None if val_source is not None else best_monitored
        self.n_iter_ = epoch_offset + epoch
        return self

    #: Hand sparse batches to ``_batch_loss`` as torch sparse COO tensors
    #: instead of densifying them.
    _sparse_batches = False

    def _evaluation_batch_size(self):
        """Rows per batch when computing the validation loss (no gradients kept)."""
        return max(self.batch_size, 1024)

    def _store_untrained(self, attributes):
        """Store fitted ``attributes`` of an estimator that ``fit`` does not train.

        Sets the same bookkeeping ``_train`` sets (no epochs, no losses), so
        untrained variants (random baselines) look like any fitted estimator.
        """
        for name, value in attributes.items():
            setattr(self, name, value)
        self._fitted_structure = self._structure()
        self.loss_curve_ = []
        self.validation_scores_ = None
        self.learning_rate_curve_ = []
        self.n_rescues_ = 0
        self.best_validation_score_ = None
        self.best_loss_ = None
        self.n_iter_ = 0
        return self

    def _sources(self, X, y, device):
        targets = BatchSource(y, device, self._target_dtype) if y is not None else None
        return BatchSource(X, device, sparse_batches=self._sparse_batches), targets

    def _evaluate_loss(self, module, sources):
        """Mean per-sample loss of ``module`` over all rows of ``sources``."""
        module.eval()
        x_source = sources[0]
        total = torch.zeros((), device=x_source.device)
        with torch.no_grad():
            for n_rows, X_batch, y_batch in _paired_batches(sources, self._evaluation_batch_size()):
                total += self._batch_loss(module, X_batch, y_batch) * n_rows
        return float(total) / x_source.n_samples


def _paired_batches(sources, batch_size, order=None):
    """Yield ``(n_rows, X_batch, y_batch)``; ``y_batch`` is None without targets."""
    x_source, y_source = sources
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
            for source in (x_source, y_source)
        ]
        yield min(stop, x_source.n_samples) - start, batches[0], batches[1]


def _all_finite(value):
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        return bool(np.all(np.isfinite(value)))
    if isinstance(value, float):
        return math.isfinite(value)
    return True


def to_numpy(tensor):
    """Detached CPU float32 numpy copy of a tensor."""
    return tensor.detach().to("cpu", torch.float32).numpy().copy()
