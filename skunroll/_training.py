"""The one training loop every skunroll estimator uses.

:class:`BaseTorchEstimator` holds the parameters shared by all trained
estimators (optimiser, batching, early stopping, device, seeding) and the loop
that trains a torch module with them. A subclass supplies four things:

- ``_build_module(X, generator, y=None)``: a fresh module for the training
  data ``X`` (and targets ``y``, if any);
- ``_module_from_attributes()``: the module rebuilt from fitted attributes
  (used by ``warm_start``);
- ``_batch_loss(module, X_batch, y_batch)``: the mean loss of one dense batch
  (``y_batch`` is None for unsupervised training);
- ``_attributes_from_module(module)``: the learned state as numpy arrays.

Optional hooks ``_on_epoch_start(module, epoch)`` and ``_after_step(module)``
cover schedules (annealing) and constraints (projections).
"""

import copy
import math
import time
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions

from .exceptions import TrainingDivergedError
from .utils._batching import BatchSource
from .utils._device import resolve_device, torch_generator
from .utils._validation import atomic_fit

_OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}


class BaseTorchEstimator(BaseEstimator):
    """Base class for estimators trained by the shared torch loop.

    Not meant to be used directly. Subclasses list the shared parameters
    (``optimizer``, ``learning_rate``, ``batch_size``, ``max_epochs``,
    ``early_stopping``, ``validation_fraction``, ``n_iter_no_change``, ``tol``,
    ``warm_start``, ``device``, ``random_state``, ``verbose``) in their own
    ``__init__`` with the defaults of the paper they implement.
    """

    _parameter_constraints = {
        "optimizer": [StrOptions(set(_OPTIMIZERS))],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
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
        self._fit(X, y)
        return self

    def _fit(self, X, y=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def _is_warm(self):
        return self.warm_start and hasattr(self, "n_iter_")

    #: dtype of the targets handed to ``_train`` (float regression targets by default).
    _target_dtype = torch.float32

    # ----------------------------------------------------------------- loop
    def _train(self, X, y=None):
        """Train on validated ``X`` (ndarray or CSR) and store the fitted state.

        ``y`` (optional, ndarray with one row per sample) holds the targets
        ``_batch_loss`` receives batch by batch, as ``_target_dtype`` tensors.

        Sets ``loss_curve_``, ``validation_scores_``, ``best_loss_``,
        ``best_validation_score_``, ``n_iter_`` and the attributes returned by
        ``_attributes_from_module``.
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
        optimizer = _OPTIMIZERS[self.optimizer](module.parameters(), lr=self.learning_rate)

        train_source = self._sources(X_train, y_train, device)
        val_source = self._sources(X_val, y_val, device) if X_val is not None else None
        n_train = X_train.shape[0]

        loss_curve = list(self.loss_curve_) if warm else []
        val_scores = list(self.validation_scores_ or []) if warm else []
        epoch_offset = self.n_iter_ if warm else 0
        best_monitored = np.inf
        best_state = None
        if warm and val_source is not None:
            # A continued fit never ends on weights worse than those it started from.
            best_monitored = self._evaluate_loss(module, val_source)
            best_state = copy.deepcopy(module.state_dict())
        no_improvement = 0
        converged = False

        for epoch in range(self.max_epochs):
            start = time.perf_counter()
            global_epoch = epoch_offset + epoch
            self._on_epoch_start(module, global_epoch)
            module.train()
            total = torch.zeros((), device=device)
            # Loss is accumulated on the device: one host sync per epoch.
            for n_rows, X_batch, y_batch in _paired_batches(
                train_source, self.batch_size, rng.permutation(n_train)
            ):
                loss = self._batch_loss(module, X_batch, y_batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                with torch.no_grad():
                    self._after_step(module)
                total += loss.detach() * n_rows
            train_loss = float(total) / n_train
            if not math.isfinite(train_loss):
                raise TrainingDivergedError(
                    f"Training diverged at epoch {global_epoch + 1}: the training loss is "
                    f"{train_loss}. Lower learning_rate (now {self.learning_rate}) or check the "
                    "scale of X. The estimator was left unchanged."
                )
            loss_curve.append(train_loss)

            if val_source is not None:
                val_loss = self._evaluate_loss(module, val_source)
                val_scores.append(-val_loss)
                monitored = val_loss
            else:
                monitored = train_loss

            # tol decides patience only; the best weights are kept whatever the margin.
            if monitored < best_monitored - self.tol:
                no_improvement = 0
            else:
                no_improvement += 1
            if monitored < best_monitored:
                best_monitored = monitored
                if val_source is not None:
                    best_state = copy.deepcopy(module.state_dict())

            if self.verbose:
                message = f"Epoch {global_epoch + 1}: train loss {train_loss:.6g}"
                if val_source is not None:
                    message += f", validation loss {val_loss:.6g}"
                print(f"{message}, {time.perf_counter() - start:.2f}s", flush=True)

            if no_improvement >= self.n_iter_no_change:
                converged = True
                if self.verbose:
                    watched = "Validation" if val_source is not None else "Training"
                    print(
                        f"{watched} loss did not improve more than tol={self.tol} for "
                        f"{self.n_iter_no_change} consecutive epochs. Stopping.",
                        flush=True,
                    )
                break

        n_epochs = epoch + 1
        if not converged:
            warnings.warn(
                f"{type(self).__name__} stopped after max_epochs={self.max_epochs} epochs and "
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
        # The score of the weights kept (restored), not just the best epoch seen.
        self.best_validation_score_ = -best_monitored if val_source is not None else None
        self.best_loss_ = None if val_source is not None else best_monitored
        self.n_iter_ = epoch_offset + n_epochs
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
