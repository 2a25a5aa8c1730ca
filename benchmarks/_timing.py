"""Helpers shared by the benchmark scripts (run as ``python benchmarks/<script>.py``)."""

import time


def timed(function):
    """Call ``function()``; return its result and the wall seconds it took."""
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start
