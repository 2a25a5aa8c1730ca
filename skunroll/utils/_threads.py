"""How many CPU threads torch may use, and holding it to that for one call.

torch sizes its intra-op thread pool once per process, to every core. Two
fits side by side (``GridSearchCV(n_jobs=2)`` with the threading backend, a
dask worker's threads, a user's thread pool) then each run that many threads
on the same cores, and OpenMP's spin-waits make an oversubscribed fit 20-60x
slower. :func:`limit_torch_threads` caps torch for the duration of one fit,
transform or decode and restores the setting afterwards.

The cap follows the conventions of joblib and threadpoolctl rather than
adding a parameter:

- ``OMP_NUM_THREADS`` (read by torch at start-up; joblib's loky and dask's
  nanny set it in their worker processes) and
  ``threadpoolctl.threadpool_limits(n)`` (it sets torch's OpenMP pool) lower
  what torch reports, and that lower value is kept;
- never more threads than the CPUs this process may run on
  (``joblib.cpu_count()``: affinity and cgroup quotas);
- called from a thread other than the main one (a thread pool is the
  parallelism there): one thread.
"""

import functools
import threading
from contextlib import contextmanager

import torch
from joblib import cpu_count
from threadpoolctl import threadpool_limits

_lock = threading.Lock()
_active = 0
_saved = None


def entitled_threads():
    """Threads one torch call in this thread may use now.

    Returns
    -------
    n_threads : int
    """
    if threading.current_thread() is not threading.main_thread():
        return 1
    current = _saved if _active else torch.get_num_threads()
    return max(1, min(current, cpu_count()))


@contextmanager
def torch_threads():
    """Run the block with torch capped at :func:`entitled_threads`.

    torch's setting is process-wide, so nested and concurrent blocks share
    one count: the first to enter saves the setting, the last to leave puts
    it back.
    """
    global _active, _saved
    with _lock:
        n_threads = entitled_threads()
        if _active == 0:
            _saved = torch.get_num_threads()
        _active += 1
        if torch.get_num_threads() > n_threads:
            torch.set_num_threads(n_threads)
    try:
        yield n_threads
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and torch.get_num_threads() != _saved:
                torch.set_num_threads(_saved)


@contextmanager
def single_blas_thread():
    """Run the block with NumPy's BLAS (OpenBLAS, MKL...) on one thread.

    For work made of many small products, where more threads only add their
    start-up. Only in the main thread: threadpoolctl's limit is process-wide
    and each block restores what it saw on entry, so blocks overlapping in a
    thread pool would leave the process on one thread (and OpenBLAS does not
    always apply a limit set from another thread). A thread pool's workers
    keep the limits they have.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


def limit_torch_threads(function):
    """Decorate ``function`` to run under :func:`torch_threads`."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with torch_threads():
            return function(*args, **kwargs)

    return wrapper
