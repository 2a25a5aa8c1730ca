"""Warnings and errors raised by skunroll."""

__all__ = ["DecodingWarning", "DeviceFallbackWarning", "TrainingDivergedError",
           "TrainingRescuedWarning"]


class TrainingDivergedError(FloatingPointError):
    """Training produced a non-finite loss or non-finite weights.

    The estimator that raised it keeps the state it had before ``fit`` was
    called: nothing half-trained is stored.
    """


class DecodingWarning(UserWarning):
    """Some vectors could not be decoded (the solver failed or the problem was infeasible)."""


class TrainingRescuedWarning(UserWarning):
    """Training diverged and was rescued: the last good weights were restored and
    the learning rate lowered (see the estimator's ``n_rescues_`` and
    ``learning_rate_curve_``)."""


class DeviceFallbackWarning(RuntimeWarning):
    """The requested device cannot run this computation, which runs on the CPU instead.

    A model fitted on a GPU predicts on a machine without one, or the batched
    decoder (float64) was asked for a device without float64 support.
    """
