"""The resolved settings of one training run, its learning-rate schedule and gradient clipping."""

import math
from dataclasses import dataclass

import torch

LR_SCHEDULES = ("constant", "plateau", "cosine")

# max_epochs="auto": about AUTO_STEPS optimiser steps, within these bounds.
AUTO_STEPS = 3000
AUTO_MIN_EPOCHS, AUTO_MAX_EPOCHS = 5, 1000
# n_iter_no_change="auto": about AUTO_PATIENCE_STEPS steps without improvement.
AUTO_PATIENCE_STEPS = 500
AUTO_MIN_PATIENCE, AUTO_MAX_PATIENCE = 3, 50

RESCUE_FACTOR = 0.1    # learning rate multiplier after a rescue
MAX_RESCUES = 4
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
    shuffle: bool


class LearningRate:
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


class AdaptiveGradientClipper:
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
