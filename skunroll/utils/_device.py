"""Device selection and seeding for the torch internals."""

import warnings

import numpy as np
import torch
from sklearn.utils import check_random_state

from ..exceptions import DeviceFallbackWarning


def resolve_device(device):
    """Turn the ``device`` parameter into a :class:`torch.device`.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` picks ``"cuda"`` when a CUDA device is available and
        ``"cpu"`` otherwise; anything else is handed to :class:`torch.device`.

    Returns
    -------
    torch.device
    """
    if isinstance(device, torch.device):
        resolved = device
    elif device == "auto":
        resolved = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            resolved = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"device={device!r} is not a valid torch device: {exc}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available on this "
                         "machine.")
    return resolved


def torch_generator(random_state):
    """Return a seeded CPU :class:`torch.Generator` and the numpy RNG it came from.

    The torch generator is local (the global torch seed is left alone), so two
    fits with the same ``random_state`` draw the same initial weights whatever
    else the process did in between.
    """
    rng = check_random_state(random_state)
    seed = int(rng.randint(np.iinfo(np.int32).max))
    generator = torch.Generator(device="cpu")
    generator.manual_seed(seed)
    return generator, rng


def inference_device(device):
    """Like :func:`resolve_device`, but fall back to the CPU when CUDA is missing.

    A model trained on a GPU and loaded on a machine without one should still
    predict: training refuses a missing device, inference warns and uses the CPU.
    """
    try:
        return resolve_device(device)
    except ValueError:
        if str(device).startswith("cuda"):
            warnings.warn(
                f"device={device!r} is not available here; running inference on the CPU.",
                DeviceFallbackWarning, stacklevel=2,
            )
            return torch.device("cpu")
        raise
