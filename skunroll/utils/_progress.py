"""Progress over the steps of an epoch, for ``verbose >= 2``."""

import time

from ._logging import report


def step_progress(batches, total, description):
    """``batches`` with a progress bar (tqdm, the ``progress`` extra) or plain lines.

    Without tqdm, a line with the steps done, the rate and the time left goes
    through the ``skunroll`` logger at every tenth of the epoch.
    """
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _plain_progress(batches, total, description)
    return tqdm(batches, total=total, desc=description, unit="step", leave=False)


def _plain_progress(batches, total, description):
    start = time.perf_counter()
    every = max(1, total // 10)
    for done, batch in enumerate(batches, 1):
        yield batch
        if done % every == 0 or done == total:
            elapsed = max(time.perf_counter() - start, 1e-9)
            rate = done / elapsed
            report(f"{description}: step {done}/{total}, {rate:.1f} steps/s, "
                   f"{(total - done) / rate:.0f} s left")
