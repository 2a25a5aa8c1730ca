"""Shared plumbing: devices, batching, validation, estimator discovery."""

from ._device import resolve_device
from .discovery import all_estimators

__all__ = ["all_estimators", "resolve_device"]
