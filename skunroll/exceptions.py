"""Warnings and errors raised by skunroll."""

__all__ = ["DecodingWarning", "TrainingDivergedError"]


class TrainingDivergedError(FloatingPointError):
    """Training produced a non-finite loss or non-finite weights.

    The estimator that raised it keeps the state it had before ``fit`` was
    called: nothing half-trained is stored.
    """


class DecodingWarning(UserWarning):
    """Some vectors could not be decoded (the solver failed or the problem was infeasible)."""
