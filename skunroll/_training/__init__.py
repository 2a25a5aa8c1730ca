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

from ._base import BaseTorchEstimator, to_numpy
from ._plan import LR_SCHEDULES, TrainingPlan

__all__ = ["LR_SCHEDULES", "BaseTorchEstimator", "TrainingPlan", "to_numpy"]
