"""BaseTorchEstimator: the lifecycle every trained estimator shares."""

import math
import time
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions

from ..exceptions import TrainingDivergedError, TrainingRescuedWarning
from ..utils._batching import BatchSource
from ..utils._device import inference_device, resolve_device, torch_generator
from ..utils._logging import report
from ..utils._threads import limit_torch_threads, torch_threads
from ..utils._validation import as_csr_or_array, atomic_fit, validate_features
from ._docs import fill_training_docs
from ._loop import History, Run, all_finite, call_back, epoch_message, one_pass, warn_on_stop
from ._optim import OPTIMIZERS
from ._plan import (
    AUTO_MAX_EPOCHS,
    AUTO_MAX_PATIENCE,
    AUTO_MIN_EPOCHS,
    AUTO_MIN_PATIENCE,
    AUTO_PATIENCE_STEPS,
    AUTO_STEPS,
    LR_SCHEDULES,
    MAX_RESCUES,
    RESCUE_FACTOR,
    TrainingPlan,
)


class BaseTorchEstimator(BaseEstimator):
    """Base class for estimators trained by the shared torch loop.

    Not meant to be used directly. It owns what every trained estimator
    shares: the training parameters (constraints here, numpydoc text in
    :mod:`skunroll._training._docs`, filled into the subclass's docstring),
    ``fit`` (parameter validation, atomic failure, thread limits), input
    validation, the training loop with its safeguards, the fitted
    bookkeeping, and batched inference on the fitted module. A subclass lists
    the shared parameters in its own ``__init__`` with the defaults of its
    paper and supplies its module, loss and state through the hooks below;
    ``doc/developers.rst`` ("Adding an estimator") walks through them.
    """

    _parameter_constraints = {
        "optimizer": [StrOptions(set(OPTIMIZERS))],
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
        "callbacks": [list, tuple, None],
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
    #: Optimiser steps ``max_epochs="auto"`` aims at.
    _auto_steps = AUTO_STEPS

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

        Ctrl-C (KeyboardInterrupt) stops training at the end of the current
        step and keeps the work: the best weights so far are restored (as
        early stopping does), the fitted attributes and ``n_iter_`` are set,
        and a :class:`~sklearn.exceptions.ConvergenceWarning` says so. If
        anything else fails (bad input, a diverging run, a second Ctrl-C),
        the estimator is left exactly as it was before the call.

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
            max_epochs = int(np.clip(math.ceil(self._auto_steps / steps_per_epoch),
                                     AUTO_MIN_EPOCHS, AUTO_MAX_EPOCHS))
        patience = self.n_iter_no_change
        if patience == "auto":
            patience = int(np.clip(math.ceil(AUTO_PATIENCE_STEPS / steps_per_epoch),
                                   AUTO_MIN_PATIENCE, AUTO_MAX_PATIENCE))
        schedule = "constant" if self.lr_schedule == "auto" else self.lr_schedule
        return TrainingPlan(optimizer=self.optimizer, learning_rate=self._resolved_learning_rate(),
                            max_epochs=max_epochs, n_iter_no_change=patience, tol=self.tol,
                            lr_schedule=schedule, max_time=self.max_time,
                            clip_gradients=False, rescue=True, shuffle=self.shuffle)

    def _resolved_learning_rate(self):
        """The starting learning rate as a number.

        An estimator whose constraints allow ``learning_rate="auto"`` resolves
        it here.
        """
        return float(self.learning_rate)

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
        run = Run(self, plan, module, device, math.ceil(n_train / self.batch_size))
        train_source = self._sources(train, device)
        val_source = self._sources(validation, device) if validation is not None else None

        with run.interruptible():
            fitted = run.train_epochs(train_source, val_source, rng, n_train, warm=warm)
        warn_on_stop(type(self).__name__, fitted.stop, plan, fitted.n_iter)
        self._store_fitted(
            self._attributes_from_module(module), fitted.history,
            n_iter=fitted.n_iter,
            n_rescues=run.n_rescues + (getattr(self, "n_rescues_", 0) if warm else 0),
            # The score of the weights kept (restored), not just the best epoch seen.
            best_validation_score=-fitted.best if val_source is not None else None,
            best_loss=None if val_source is not None else fitted.best,
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
        start = time.perf_counter()
        state = self._optimizer_state if continuing else None
        scale = 1.0 if state is None else state.get("learning_rate_scale", 1.0)
        n_rescues = getattr(self, "n_rescues_", 0) if continuing else 0
        for attempt in range(MAX_RESCUES + 1):
            module, run, train_loss = one_pass(self, X, y, side, continuing=continuing,
                                               scale=scale)
            if math.isfinite(train_loss):
                break
            if attempt == MAX_RESCUES:
                raise TrainingDivergedError(
                    f"partial_fit diverged: the training loss of this chunk is {train_loss} "
                    f"after {MAX_RESCUES} reruns with a 10x lower learning rate (now "
                    f"{run.schedule.value:.3g}). Lower learning_rate or check the scale of X. "
                    "The estimator was left unchanged."
                )
            scale *= RESCUE_FACTOR
            if attempt == 0:
                warnings.warn(
                    f"{type(self).__name__}.partial_fit diverged on this chunk (training loss "
                    f"{train_loss}); ran it again from the state before it with the learning "
                    f"rate lowered to {run.schedule.value * RESCUE_FACTOR:.3g}. Later calls "
                    "keep the lower rate; n_rescues_ and learning_rate_curve_ record it.",
                    TrainingRescuedWarning, stacklevel=2,
                )
        if run.interrupted:
            warnings.warn(f"{type(self).__name__}.partial_fit interrupted (Ctrl-C): the chunk was "
                          f"trained up to step {run.n_steps} of its pass, and kept.",
                          ConvergenceWarning, stacklevel=2)
        history = History.continuing(self) if continuing else History()
        history.loss_curve.append(train_loss)
        history.learning_rate_curve.append(run.schedule.value)
        self._store_fitted(self._attributes_from_module(module), history,
                           n_iter=(self.n_iter_ if continuing else 0) + 1,
                           n_steps=(self.n_optimizer_steps_ if continuing else 0) + run.n_steps,
                           n_rescues=n_rescues + attempt, best_loss=train_loss)
        self._optimizer_state = {**run.state(), "learning_rate_scale": scale}
        record = {"epoch": self.n_iter_, "train_loss": train_loss, "validation_loss": None,
                  "learning_rate": run.schedule.value, "seconds": time.perf_counter() - start,
                  "n_optimizer_steps": self.n_optimizer_steps_, "estimator": self}
        if self.verbose:
            report(f"partial_fit call {self.n_iter_}: " + epoch_message(record).split(": ", 1)[1])
        call_back(self, record)  # one pass a call: a request to stop has nothing to stop
        return self

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

    def _store_fitted(self, attributes, history, *, n_iter, n_steps=0, n_rescues=0,
                      best_validation_score=None, best_loss=None, validated=False):
        """Set the learned ``attributes`` and the loop's bookkeeping, all or nothing."""
        for name, value in attributes.items():
            if not all_finite(value):
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
        return self._store_fitted(attributes, History(), n_iter=0)

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

    @limit_torch_threads
    def _forward(self, X, out_width, *, module=None, method=None, dtype=np.float64,
                 compute_dtype=torch.float32):
        """Run the fitted module over validated ``X`` in batches; a numpy array out.

        ``module`` defaults to the one rebuilt from the fitted attributes and
        ``method`` to its ``forward``; it runs in eval mode, without
        gradients, in ``compute_dtype``, on the inference device (the CPU, with
        a warning, when a saved CUDA device is missing), one batch of rows at a
        time (sparse ``X`` densified a batch at a time). ``compute_dtype="input"``:
        float64 for float64 ``X`` on the CPU, else float32, for networks whose
        outputs jump with any rounding (hard thresholds): float32 products
        round differently with the number of rows, so a row's output would
        depend on its batch.
        """
        device = inference_device(self.device)
        if compute_dtype == "input":
            exact = X.dtype == np.float64 and device.type == "cpu"
            compute_dtype = torch.float64 if exact else torch.float32
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


def to_numpy(tensor):
    """Detached CPU float32 numpy copy of a tensor."""
    return tensor.detach().to("cpu", torch.float32).numpy().copy()
