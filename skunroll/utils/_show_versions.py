"""``skunroll.show_versions()``: what a bug report or a reproduction needs to state."""

import importlib
import platform
import subprocess
import sys
from pathlib import Path

#: Core dependencies, then the optional ones worth reporting when installed.
_DEPENDENCIES = ("numpy", "scipy", "sklearn", "torch", "joblib")
_OPTIONAL = ("pandas", "matplotlib", "dask", "distributed", "dask_ml", "skops", "tqdm")


def _version(name):
    try:
        module = importlib.import_module(name)
    except ImportError:
        return None
    return getattr(module, "__version__", "installed")


def _git_commit():
    """The commit of a source checkout, or None (an installed wheel, no git)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def get_versions():
    """The versions and the machine, as a dict (what :func:`show_versions` prints).

    Returns
    -------
    info : dict
        ``system`` (python, executable, machine, torch threads, CUDA devices),
        ``dependencies`` (core and installed optional packages; None when
        missing) and ``skunroll`` (version and, in a source checkout, the git
        commit).
    """
    from .. import __version__

    torch = importlib.import_module("torch")
    cuda = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {
        "skunroll": {"version": __version__, "git_commit": _git_commit()},
        "system": {"python": sys.version.replace("\n", " "), "executable": sys.executable,
                   "machine": platform.platform(), "torch_threads": torch.get_num_threads(),
                   "cuda_devices": cuda},
        "dependencies": {name: _version(name) for name in _DEPENDENCIES + _OPTIONAL},
    }


def show_versions():
    """Print the skunroll, Python and dependency versions and the machine.

    For bug reports; the reproductions write the same information (with
    their arguments, device and seed) into their JSON.

    Examples
    --------
    >>> import skunroll
    >>> skunroll.show_versions()  # doctest: +SKIP
    """
    info = get_versions()
    for section in ("skunroll", "system", "dependencies"):
        print(f"\n{section}:")
        for key, value in info[section].items():
            print(f"{key:>14}: {value}")
