"""The l1-AE recovery experiment of Wu et al. (ICML 2019), shared by the CLI and benchmarks."""

import functools
import json
import sys
import time
import warnings
from pathlib import Path

import torch
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning

from ..datasets import make_block_sparse, make_power_law_sparse
from ..metrics import exact_recovery_fraction, recovery_rmse
from ..sensing import GaussianMeasurement, L1AEEncoder
from ..utils._device import resolve_device
from ..utils._show_versions import get_versions

#: The reproductions' per-step lines, flushed so a redirected log shows them as they come.
progress = functools.partial(print, flush=True)

DATASETS = {
    "synthetic1": lambda n, seed: make_block_sparse(n, 1000, block_size=10, n_blocks=1,
                                                    random_state=seed),
    "synthetic2": lambda n, seed: make_block_sparse(n, 1000, block_size=5, n_blocks=2,
                                                    random_state=seed),
    "power-law": lambda n, seed: make_power_law_sparse(n, 1000, random_state=seed),
}


#: The device types the command line runs on (``--device``).
DEVICE_TYPES = ("cpu", "cuda", "mps")


def device_name(device):
    """The device that ``device`` (``"auto"``, ``"cpu"``, ``"cuda:0"``...) stands for here.

    Checked before anything runs, so a typo or a missing GPU is one clear error
    instead of a failure in the middle of a reproduction.

    Returns
    -------
    name : str
        ``"auto"`` resolved: ``"cuda"`` where CUDA is available, else ``"cpu"``.

    Raises
    ------
    ValueError
        For a name torch does not know, a device type other than
        :data:`DEVICE_TYPES`, or a device this machine does not have.
    """
    expected = f"one of auto, {', '.join(DEVICE_TYPES)} or cuda:N"
    try:
        known = device == "auto" or torch.device(device).type in DEVICE_TYPES
    except (RuntimeError, TypeError):
        known = False
    if not known:
        raise ValueError(f"device={device!r} is not {expected}.")
    resolved = resolve_device(device)
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"device={device!r} was requested but this machine has "
                         f"{torch.cuda.device_count()} CUDA device(s).")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device!r} was requested but MPS is not available on this "
                         "machine.")
    return str(resolved)


def recovery_table(dataset="synthetic1", n_components=(10, 20, 30), *, n_samples=10000,
                   n_test=2000, max_epochs="auto", recipe="stable", n_jobs=None,
                   sweep_n_jobs=None, device="auto", random_state=0, verbose=0, log=None):
    """Exact recovery of learned vs Gaussian measurements, both decoded by l1-min-pos.

    The data are split as the paper: 60% training, 20% validation (early
    stopping), 20% test; ``n_test`` caps the test rows that are decoded.
    ``n_jobs`` is each estimator's (the decoders'); ``sweep_n_jobs`` runs the
    values of m in parallel through joblib (so a dask backend can take them).
    The training seconds are only comparable between sequential runs.

    Returns
    -------
    rows : list of dict
        One per m, with the exact-recovery fraction and RMSE of each method,
        the epochs and the training seconds of l1-AE.
    """
    X = DATASETS[dataset](n_samples, random_state)
    n_fit = int(0.8 * n_samples)
    X_fit, X_test = X[:n_fit], X[n_fit : n_fit + n_test]
    settings = dict(max_epochs=max_epochs, recipe=recipe, n_jobs=n_jobs, device=device,
                    random_state=random_state, verbose=verbose)
    rows = []
    for row in Parallel(n_jobs=sweep_n_jobs, return_as="generator")(
        delayed(_recovery_row)(dataset, m, X_fit, X_test, **settings) for m in n_components
    ):
        rows.append(row)
        if log is not None:
            log(row)
    return rows


def _recovery_row(dataset, m, X_fit, X_test, *, max_epochs, recipe, n_jobs, device,
                  random_state, verbose):
    start = time.perf_counter()
    learned = L1AEEncoder(m, recipe=recipe, max_epochs=max_epochs, validation_fraction=0.25,
                          n_jobs=n_jobs, device=device, random_state=random_state,
                          verbose=verbose)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        learned.fit(X_fit)
    train_seconds = time.perf_counter() - start
    gaussian = GaussianMeasurement(m, n_jobs=n_jobs, device=device,
                                   random_state=random_state).fit(X_fit)
    row = {"dataset": dataset, "m": m}
    for name, estimator in (("l1ae", learned), ("gaussian", gaussian)):
        X_hat = estimator.inverse_transform(estimator.transform(X_test))
        row[f"{name}_exact"] = exact_recovery_fraction(X_test, X_hat)
        row[f"{name}_rmse"] = recovery_rmse(X_test, X_hat)
    row["l1ae_epochs"] = learned.n_iter_
    row["l1ae_train_seconds"] = train_seconds
    return row


def format_row(row):
    return (f"{row['m']:>4}  {row['l1ae_exact']:>10.1%}  {row['l1ae_rmse']:>9.4f}  "
            f"{row['gaussian_exact']:>10.1%}  {row['gaussian_rmse']:>9.4f}  "
            f"{row['l1ae_epochs']:>6}  {row['l1ae_train_seconds']:>7.1f}")


HEADER = ("   m  l1AE exact  l1AE rmse  Gaus exact  Gaus rmse  epochs  train s\n"
          "   (both decoded by l1-min-pos; exact = ||x_hat - x||_2 < 1e-10)")


def save_results(out, stem, results, text, args=None):
    """Write ``results`` as ``stem.json`` and ``text`` as ``stem.md`` in ``out`` (if given).

    ``stem.run.json`` records how they were made: the command line, the
    parsed arguments (seed included), the device (as asked for, as used and,
    for a GPU, its name) and :func:`skunroll.show_versions`'s information
    (versions, machine, CUDA devices, git commit).
    Returns the folder (a Path), or None when ``out`` is None.
    """
    if out is None:
        return None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    run = {"command": sys.argv, "arguments": vars(args) if args is not None else None,
           "device": _device_record(getattr(args, "device", None)),
           "environment": get_versions()}
    (out / f"{stem}.run.json").write_text(json.dumps(run, indent=1, default=str))
    (out / f"{stem}.json").write_text(json.dumps(results, indent=1))
    (out / f"{stem}.md").write_text(text + "\n")
    return out


def _device_record(device):
    if device is None:
        return None
    used = device_name(device)
    record = {"requested": device, "used": used}
    if used.startswith("cuda"):
        record["name"] = torch.cuda.get_device_name(torch.device(used))
    return record


_SAID = {"no matplotlib": False}


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend, or None without matplotlib.

    Without matplotlib, says so once (the tables are written all the same).
    """
    try:
        import matplotlib
    except ImportError:
        if not _SAID["no matplotlib"]:
            _SAID["no matplotlib"] = True
            progress("matplotlib is not installed: the plots are skipped "
                     "(pip install matplotlib, or the benchmarks extra).")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
