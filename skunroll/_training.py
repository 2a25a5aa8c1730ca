"""The one training loop every skunroll estimator uses.

:class:`BaseTorchEstimator` holds the parameters shared by all trained
estimators (optimiser, schedule, batching, early stopping, time limit, device,
seeding) and the loop that trains a torch module with them. A subclass
supplies (the developer guide's table has them all):

- ``_fit(X, y, *, incremental, classes)``: validate, compute targets or side
  data, call ``_train(X, y, side, incremental=incremental)``;
- ``_build_module(X, generator, y=None, side=None)``: a fresh module for the
  training rows;
- ``_module_from_attributes()``: the module rebuilt from fitted attributes;
- ``_batch_loss(module, X_batch, y_batch, side_batch)``: the mean loss of one
  batch;
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
import functools
import math
import time
import warnings
from dataclasses import dataclass, field, replace
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions

from ._training_docs import fill_training_docs
from .exceptions import TrainingDivergedError, TrainingRescuedWarning
from .utils._batching import BatchSource
from .utils._device import inference_device, resolve_device, torch_generator
from .utils._threads import limit_torch_threads, torch_threads
from .utils._validation import as_csr_or_array, atomic_fit, validate_features

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
        if (self.kind == "plateau" and no_improvement
                and no_improvement % self.plateau_patience == 0):
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

    Not meant to be used directly. It owns what every trained estimator
    shares: the training parameters (constraints here, numpydoc text in
    :mod:`skunroll._training_docs`, filled into the subclass's docstring),
    ``fit`` (parameter validation, atomic failure, thread limits), input
    validation, the training loop with its safeguards, the fitted
    bookkeeping, and batched inference on the fitted module. A subclass lists
    the shared parameters in its own ``__init__`` with the defaults of its
    paper and supplies its module, loss and state through the hooks below;
    ``doc/developers.rst`` ("Adding an estimator") walks through them.
    """

    _parameter_constraints = {
        "optimizer": [StrOptions(set(_OPTIMIZERS))],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
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

    # ------------------------------------------------------- declarations
    #: Sparse formats ``fit`` and ``transform`` accept (converted to CSR inside).
    _accept_sparse = ("csr", "csc", "coo")
    #: dtype of the targets ``y`` handed to ``_train`` (float regression targets by default).
    _target_dtype = torch.float32
    #: Give ``_batch_loss`` sparse batches of sparse input as torch COO tensors
    #: (the nonzeros only) instead of densified rows: for losses whose samples
    #: are too large to densify (a whole matrix per sample).
    _sparse_batches = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        fill_training_docs(cls)

    def _set_init_arguments(self, arguments):
        """The body of every ``__init__``: store each argument under its own name."""
        for name, value in arguments.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    # ------------------------------------------------------------------ hooks
    def _build_module(self, X, generator, y=None, side=None):  # pragma: no cover - abstract
        """A fresh module for the training rows ``X`` (targets ``y``, side data ``side``)."""
        raise NotImplementedError

    def _module_from_attributes(self):  # pragma: no cover - abstract
        """The module rebuilt from the fitted attributes (warm starts, inference)."""
        raise NotImplementedError

    def _batch_loss(self, module, X_batch, y_batch, side_batch):  # pragma: no cover - abstract
        """Mean loss of one batch; ``y_batch`` and ``side_batch`` are None when absent."""
        raise NotImplementedError

    def _attributes_from_module(self, module):  # pragma: no cover - abstract
        """The learned state as ``{attribute_name: numpy value}``."""
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
            self._fit(X, y, incremental=None)
        return self

    @atomic_fit
    def partial_fit(self, X, y=None):
        """One pass over ``X`` in the given order, continuing from the previous call.

        The first call on an unfitted estimator initialises the model from
        this chunk and ``random_state``; later calls continue with the same
        weights, optimiser state and step count (after ``fit``: from its
        weights, with a fresh optimiser state). Nothing is held out and
        the schedule does not move between calls (``lr_schedule`` is read as
        ``"constant"``, and per-epoch schedules keep their first epoch's
        value). With ``shuffle=False`` the batches are the chunk's
        rows in order, so chunks whose sizes are multiples of ``batch_size``,
        streamed in order, take exactly the steps of one ``fit`` epoch (with
        ``max_epochs=1, early_stopping=False, shuffle=False``) on their
        concatenation. Sparse chunks stay sparse. A data-driven start (a
        dictionary, a data-dependent scale) is computed on the first chunk.
        A chunk on which training diverges (a non-finite loss) is run again
        from the state before it with a 10x lower learning rate, up to 4
        times, with a :class:`~skunroll.exceptions.TrainingRescuedWarning`;
        later calls keep the lower rate.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            One chunk of training data.
        y : array-like or None
            Targets of the chunk, for the estimators that take them.

        Returns
        -------
        self : object
        """
        return self._partial_fit(X, y)

    def _partial_fit(self, X, y=None, classes=None):
        """The body of :meth:`partial_fit` (a classifier's also passes ``classes``)."""
        continuing = hasattr(self, "_optimizer_state")  # set by fit and partial_fit
        if continuing and self._structure() != self._fitted_structure:
            raise ValueError(
                f"partial_fit continues the network of the first call ({self._fitted_structure}); "
                f"got {self._structure()}. Call fit, or start a new estimator."
            )
        with torch_threads():
            self._fit(X, y, incremental="continue" if continuing else "first", classes=classes)
        return self

    def _fit(self, X, y=None, *, incremental=None, classes=None):  # pragma: no cover - abstract
        """Validate ``X`` (and ``y``), set up what the module needs, and call :meth:`_train`.

        ``incremental`` is None for ``fit``, ``"first"`` for the first
        ``partial_fit`` call and ``"continue"`` for the later ones; pass it on
        to :meth:`_train` and :meth:`_is_warm`. ``classes`` is what a
        classifier's first ``partial_fit`` was given (None otherwise).
        """
        raise NotImplementedError

    def _is_warm(self, incremental=None):
        """Whether training continues from the fitted state (``warm_start`` or a later
        ``partial_fit`` call)."""
        return (self.warm_start or incremental == "continue") and hasattr(self, "n_iter_")

    def _validate_X(self, X, reset):
        """``X`` checked against the fitted features (or recorded, if ``reset``)."""
        return validate_features(self, X, reset, accept_sparse=self._accept_sparse)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = bool(self._accept_sparse)
        return tags

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
        # An estimator whose constraints allow learning_rate="auto" resolves it
        # in its own _training_plan; nan until then.
        rate = math.nan if self.learning_rate == "auto" else float(self.learning_rate)
        return TrainingPlan(optimizer=self.optimizer, learning_rate=rate,
                            max_epochs=max_epochs, n_iter_no_change=patience, tol=self.tol,
                            lr_schedule=schedule, max_time=self.max_time,
                            clip_gradients=False, rescue=True)

    def _train(self, X, y=None, side=None, *, incremental=None):
        """Train on validated ``X`` (ndarray or CSR) and store the fitted state.

        ``y`` (optional, one row per sample) holds the targets and ``side``
        (optional, one row per sample) per-sample data that is not a target
        (a scale factor, say); ``_build_module`` gets those of the training
        rows and ``_batch_loss`` those of each batch, as tensors (targets as
        ``_target_dtype``, side data as float32).

        Sets ``loss_curve_``, ``validation_scores_``, ``learning_rate_curve_``,
        ``best_loss_``, ``best_validation_score_``, ``n_iter_``, ``n_rescues_``
        and the attributes returned by ``_attributes_from_module``.
        """
        if incremental:
            return self._partial_pass(X, y, side, continuing=incremental == "continue")
        device = resolve_device(self.device)
        generator, rng = torch_generator(self.random_state)
        warm = self._is_warm()
        train, validation = self._split_for_validation((X, y, side), rng)
        if warm:
            module = self._module_from_attributes()
        else:
            module = self._build_module(train[0], generator, y=train[1], side=train[2])
        module = module.to(device)
        n_train = train[0].shape[0]
        plan = self._training_plan(n_train)
        run = _Run(self, plan, module, device, math.ceil(n_train / self.batch_size))
        train_source = self._sources(train, device)
        val_source = self._sources(validation, device) if validation is not None else None

        history = _History.continuing(self) if warm else _History()
        epoch_offset = self.n_iter_ if warm else 0
        best_monitored, best_state = np.inf, None
        if warm and val_source is not None:
            # A continued fit never ends on weights worse than those it started from.
            best_monitored = self._evaluate_loss(module, val_source)
            best_state = copy.deepcopy(module.state_dict())
        no_improvement = 0
        stop = None  # "converged" or "max_time" once decided

        epoch = 0
        while epoch < plan.max_epochs:
            start = time.perf_counter()
            global_epoch = epoch_offset + epoch
            self._on_epoch_start(module, global_epoch)
            # An estimator that does not list shuffle in its __init__ shuffles.
            shuffle = getattr(self, "shuffle", True)
            order = rng.permutation(n_train) if shuffle else np.arange(n_train)
            train_loss, timed_out = run.epoch(train_source, order)
            stop = "max_time" if timed_out else None
            if not math.isfinite(train_loss):
                run.rescue(train_loss, global_epoch)
                stop = None
                continue
            history.loss_curve.append(train_loss)
            history.learning_rate_curve.append(run.schedule.value)

            if val_source is not None:
                val_loss = self._evaluate_loss(module, val_source)
                history.validation_scores.append(-val_loss)
                monitored = val_loss
            else:
                monitored = train_loss

            # tol decides patience only; the best weights are kept whatever the margin.
            no_improvement = 0 if monitored < best_monitored - plan.tol else no_improvement + 1
            if monitored < best_monitored:
                best_monitored = monitored
                if val_source is not None:
                    best_state = copy.deepcopy(module.state_dict())
            run.remember_if_lowest(train_loss)

            if self.verbose:
                message = f"Epoch {global_epoch + 1}: train loss {train_loss:.6g}"
                if val_source is not None:
                    message += f", validation loss {val_loss:.6g}"
                elapsed = time.perf_counter() - start
                print(f"{message}, lr {run.schedule.value:.3g}, {elapsed:.2f}s", flush=True)
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
            run.schedule.after_epoch(no_improvement)

        self._warn_on_stop(stop, plan, epoch_offset + epoch)
        if best_state is not None:
            module.load_state_dict(best_state)
        self._store_fitted(
            self._attributes_from_module(module), history,
            n_iter=epoch_offset + epoch,
            n_rescues=run.n_rescues + (getattr(self, "n_rescues_", 0) if warm else 0),
            # The score of the weights kept (restored), not just the best epoch seen.
            best_validation_score=-best_monitored if val_source is not None else None,
            best_loss=None if val_source is not None else best_monitored,
            validated=val_source is not None,
            n_steps=(getattr(self, "n_optimizer_steps_", 0) if warm else 0) + run.n_steps,
        )
        self._optimizer_state = None  # a later partial_fit starts anew from this fit
        return self

    def _partial_pass(self, X, y, side, *, continuing):
        """One in-order pass of :meth:`partial_fit` over a validated chunk.

        A chunk whose training loss is not finite is run again from the state
        before it (the estimator is only updated at the end) with the
        learning rate divided by 10, as ``fit``'s rescue does, up to 4 times;
        later calls keep the lowered rate.
        """
        state = self._optimizer_state if continuing else None
        scale = 1.0 if state is None else state.get("learning_rate_scale", 1.0)
        n_rescues = getattr(self, "n_rescues_", 0) if continuing else 0
        for attempt in range(_MAX_RESCUES + 1):
            module, run, train_loss = self._partial_attempt(X, y, side, continuing, scale)
            if math.isfinite(train_loss):
                break
            if attempt == _MAX_RESCUES:
                raise TrainingDivergedError(
                    f"partial_fit diverged: the training loss of this chunk is {train_loss} "
                    f"after {_MAX_RESCUES} reruns with a 10x lower learning rate (now "
                    f"{run.schedule.value:.3g}). Lower learning_rate or check the scale of X. "
                    "The estimator was left unchanged."
                )
            scale *= _RESCUE_FACTOR
            if attempt == 0:
                warnings.warn(
                    f"{type(self).__name__}.partial_fit diverged on this chunk (training loss "
                    f"{train_loss}); ran it again from the state before it with the learning "
                    f"rate lowered to {run.schedule.value * _RESCUE_FACTOR:.3g}. Later calls "
                    "keep the lower rate; n_rescues_ and learning_rate_curve_ record it.",
                    TrainingRescuedWarning, stacklevel=2,
                )
        history = _History.continuing(self) if continuing else _History()
        history.loss_curve.append(train_loss)
        history.learning_rate_curve.append(run.schedule.value)
        self._store_fitted(self._attributes_from_module(module), history,
                           n_iter=(self.n_iter_ if continuing else 0) + 1,
                           n_steps=(self.n_optimizer_steps_ if continuing else 0) + run.n_steps,
                           n_rescues=n_rescues + attempt, best_loss=train_loss)
        self._optimizer_state = {**run.state(), "learning_rate_scale": scale}
        return self

    def _partial_attempt(self, X, y, side, continuing, scale):
        """``(module, run, training loss)`` of one pass from the state before this chunk."""
        device = resolve_device(self.device)
        generator, rng = torch_generator(self.random_state)
        if continuing:
            module = self._module_from_attributes()
        else:
            module = self._build_module(X, generator, y=y, side=side)
        module = module.to(device)
        # The chunks of a stream are all part of one pass: per-epoch schedules
        # (deep l0's sigma) keep their first epoch's value.
        self._on_epoch_start(module, 0)
        n_rows = X.shape[0]
        plan = self._training_plan(n_rows)
        plan = replace(plan, learning_rate=plan.learning_rate * scale, lr_schedule="constant",
                       rescue=False, max_time=None)
        run = _Run(self, plan, module, device, math.ceil(n_rows / self.batch_size))
        if continuing and self._optimizer_state is not None:
            run.restore(self._optimizer_state, device)
        if getattr(self, "shuffle", True):
            # A new order per call, reproducible from the seed and the call count.
            calls = self.n_iter_ if continuing else 0
            order = np.random.RandomState(rng.randint(2**31 - 1) + calls).permutation(n_rows)
        else:
            order = np.arange(n_rows)
        sources = self._sources((X, y, side), device)
        train_loss, _ = run.epoch(sources, order)
        return module, run, train_loss

    def _split_for_validation(self, arrays, rng):
        """``(train, validation)`` tuples of ``arrays`` (None entries stay None)."""
        if not self.early_stopping:
            return arrays, None
        n_samples = arrays[0].shape[0]
        n_val = int(math.ceil(self.validation_fraction * n_samples))
        if n_samples - n_val < 1:
            raise ValueError(
                f"n_samples={n_samples} is too few to hold out validation_fraction="
                f"{self.validation_fraction} for early stopping and still train; "
                "pass more samples or set early_stopping=False."
            )
        permutation = rng.permutation(n_samples)
        val_idx, train_idx = np.sort(permutation[:n_val]), np.sort(permutation[n_val:])
        return (tuple(None if a is None else a[train_idx] for a in arrays),
                tuple(None if a is None else a[val_idx] for a in arrays))

    def _warn_on_stop(self, stop, plan, n_epochs):
        if stop == "max_time":
            warnings.warn(
                f"{type(self).__name__} stopped after max_time={plan.max_time} s, in epoch "
                f"{n_epochs}.", ConvergenceWarning, stacklevel=2,
            )
        elif stop is None and plan.lr_schedule != "cosine":
            # A cosine schedule ends at max_epochs by design (its step has reached 0).
            warnings.warn(
                f"{type(self).__name__} stopped after max_epochs={plan.max_epochs} epochs and "
                "the loss was still improving. Consider increasing max_epochs.",
                ConvergenceWarning, stacklevel=2,
            )

    def _store_fitted(self, attributes, history, *, n_iter, n_steps=0, n_rescues=0,
                      best_validation_score=None, best_loss=None, validated=False):
        """Set the learned ``attributes`` and the loop's bookkeeping, all or nothing."""
        for name, value in attributes.items():
            if not _all_finite(value):
                raise TrainingDivergedError(
                    f"Training produced non-finite values in {name}. The estimator was left "
                    "unchanged."
                )
        for name, value in attributes.items():
            setattr(self, name, value)
        self._fitted_structure = self._structure()
        self.loss_curve_ = history.loss_curve
        self.validation_scores_ = history.validation_scores if validated else None
        self.learning_rate_curve_ = history.learning_rate_curve
        self.n_rescues_ = n_rescues
        self.best_validation_score_ = best_validation_score
        self.best_loss_ = best_loss
        self.n_iter_ = n_iter
        self.n_optimizer_steps_ = n_steps
        return self

    def _store_untrained(self, attributes):
        """Store the state of a fit that trains nothing (a random baseline, ``max_epochs=0``).

        The same bookkeeping as a trained fit, with no epochs and no losses.
        """
        self._optimizer_state = None  # nothing to continue, but partial_fit checks the features
        return self._store_fitted(attributes, _History(), n_iter=0)

    def _sources(self, arrays, device):
        X, y, side = arrays
        return (BatchSource(X, device, sparse_batches=self._sparse_batches),
                BatchSource(y, device, self._target_dtype) if y is not None else None,
                BatchSource(side, device) if side is not None else None)

    def _inference_rows(self, n_features):
        """Rows per batch for validation losses and inference (no gradients kept).

        At least ``batch_size`` and up to 1024, fewer when rows are so wide
        (whole matrices as samples) that 1024 of them would not fit the budget.
        """
        return max(self.batch_size, min(1024, _INFERENCE_ELEMENTS // max(1, n_features)))

    def _evaluate_loss(self, module, sources):
        """Mean per-sample loss of ``module`` over all rows of ``sources``."""
        module.eval()
        x_source = sources[0]
        total = torch.zeros((), device=x_source.device)
        with torch.no_grad():
            for n_rows, *batch in _paired_batches(sources, self._inference_rows(x_source.width)):
                total += self._batch_loss(module, *batch) * n_rows
        return float(total) / x_source.n_samples

    @limit_torch_threads
    def _forward(self, X, out_width, *, module=None, method=None, dtype=np.float64,
                 compute_dtype=torch.float32):
        """Run the fitted module over validated ``X`` in batches; a numpy array out.

        ``module`` defaults to the one rebuilt from the fitted attributes and
        ``method`` to its ``forward``; it runs in eval mode, without
        gradients, in ``compute_dtype``, on the inference device (the CPU, with
        a warning, when a saved CUDA device is missing), one batch of rows at a
        time (sparse ``X`` densified a batch at a time).
        """
        device = inference_device(self.device)
        module = (self._module_from_attributes() if module is None else module)
        module = module.to(device=device, dtype=compute_dtype).eval()
        call = module if method is None else getattr(module, method)
        source = BatchSource(as_csr_or_array(X), device, dtype=compute_dtype)
        out = np.empty((X.shape[0], out_width), dtype=dtype)
        start = 0
        with torch.no_grad():
            for n_rows, batch in source.iter_batches(self._inference_rows(X.shape[1])):
                out[start : start + n_rows] = call(batch).cpu().numpy()
                start += n_rows
        return out


#: Elements (rows x features) per inference batch, at most.
_INFERENCE_ELEMENTS = 2**23


@dataclass
class _History:
    """The per-epoch curves a fit records (continued by a warm start)."""

    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    learning_rate_curve: list = field(default_factory=list)

    @classmethod
    def continuing(cls, estimator):
        return cls(list(estimator.loss_curve_), list(estimator.validation_scores_ or []),
                   list(getattr(estimator, "learning_rate_curve_", [])))


class _Run:
    """One training run's optimiser, schedule, clipping and divergence rescue."""

    def __init__(self, estimator, plan, module, device, steps_per_epoch):
        self.estimator, self.plan, self.module, self.device = estimator, plan, module, device
        self.schedule = _LearningRate(plan, steps_per_epoch)
        self._new_optimizer()
        # A diverging epoch is rolled back to the weights of the epoch with the
        # lowest training loss (the starting weights before any epoch).
        self.good_state = copy.deepcopy(module.state_dict()) if plan.rescue else None
        self.lowest_loss = math.inf
        self.n_rescues = 0
        self.deadline = None if plan.max_time is None else time.perf_counter() + plan.max_time
        self.epoch_first_step = 0
        self.n_steps = 0

    def state(self):
        """What a later :meth:`restore` needs to continue these steps (CPU tensors)."""
        to_cpu = functools.partial(_map_tensors, lambda tensor: tensor.detach().cpu().clone())
        state = {"optimizer": to_cpu(self.optimizer.state_dict()), "step": self.schedule.step}
        if self.clipper is not None:
            state["clipper"] = (self.clipper.history.cpu().clone(), self.clipper.n_steps)
        return state

    def restore(self, state, device):
        """Continue from :meth:`state` (optimiser moments, step count, clipping history)."""
        to_device = functools.partial(_map_tensors, lambda tensor: tensor.to(device))
        self.optimizer.load_state_dict(to_device(state["optimizer"]))
        self.schedule.step = state["step"]
        if self.clipper is not None and "clipper" in state:
            history, n_steps = state["clipper"]
            self.clipper.history = history.to(device)
            self.clipper.n_steps = n_steps

    def _new_optimizer(self):
        self.optimizer = _OPTIMIZERS[self.plan.optimizer](self.module.parameters(),
                                                          lr=self.schedule.value)
        self.clipper = _AdaptiveGradientClipper(self.device) if self.plan.clip_gradients else None

    def epoch(self, sources, order):
        """One pass over ``sources`` in ``order``: ``(mean training loss, timed out)``."""
        estimator, module = self.estimator, self.module
        module.train()
        total = torch.zeros((), device=self.device)
        n_seen = 0
        self.epoch_first_step = self.schedule.step
        timed_out = False
        # Loss is accumulated on the device: one host sync per epoch.
        for n_rows, *batch in _paired_batches(sources, estimator.batch_size, order):
            self.schedule.before_step(self.optimizer)
            loss = estimator._batch_loss(module, *batch)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.clipper is not None:
                self.clipper.clip(module.parameters())
            self.optimizer.step()
            self.n_steps += 1
            with torch.no_grad():
                estimator._after_step(module)
            total += loss.detach() * n_rows
            n_seen += n_rows
            if self.deadline is not None and time.perf_counter() >= self.deadline:
                timed_out = True
                break
        return float(total) / n_seen, timed_out

    def rescue(self, train_loss, global_epoch):
        """Undo a diverged epoch (lowest-loss weights, a 10x lower step), or raise."""
        name = type(self.estimator).__name__
        if not (self.plan.rescue and self.n_rescues < _MAX_RESCUES):
            rescued = f" after {self.n_rescues} rescues" if self.plan.rescue else ""
            raise TrainingDivergedError(
                f"Training diverged at epoch {global_epoch + 1}{rescued}: the training loss "
                f"is {train_loss}. Lower learning_rate (now {self.plan.learning_rate}) or "
                "check the scale of X. The estimator was left unchanged."
            )
        lowered = self.schedule.lower(_RESCUE_FACTOR, restart_at=self.epoch_first_step)
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

    def remember_if_lowest(self, train_loss):
        if self.plan.rescue and train_loss <= self.lowest_loss:
            self.lowest_loss = train_loss
            self.good_state = copy.deepcopy(self.module.state_dict())


def _map_tensors(function, value):
    """``value`` with ``function`` applied to every tensor in nested dicts / lists."""
    if isinstance(value, torch.Tensor):
        return function(value)
    if isinstance(value, dict):
        return {key: _map_tensors(function, item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_map_tensors(function, item) for item in value)
    return value


def _paired_batches(sources, batch_size, order=None):
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
