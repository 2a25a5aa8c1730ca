"""Training messages through ``logging.getLogger("skunroll")``."""

import logging
import sys

LOGGER = logging.getLogger("skunroll")


class _Stdout(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is when a record comes (a notebook, a capture)."""

    def emit(self, record):
        self.stream = sys.stdout
        super().emit(record)


#: The handler used while nobody has configured logging.
_FALLBACK = _Stdout()
_FALLBACK.setFormatter(logging.Formatter("%(message)s"))


def report(message):
    """Log ``message`` at INFO; printed to stdout while logging is not configured.

    The caller decides (``verbose``) whether to report. Once the application
    configures logging (a handler on the root or the ``skunroll`` logger),
    the records go through it instead, at the levels it chose.
    """
    configured = bool(logging.getLogger().handlers) or any(
        handler is not _FALLBACK for handler in LOGGER.handlers)
    if configured and _FALLBACK in LOGGER.handlers:
        LOGGER.removeHandler(_FALLBACK)
        LOGGER.propagate = True
    elif not configured and _FALLBACK not in LOGGER.handlers:
        LOGGER.addHandler(_FALLBACK)
        LOGGER.propagate = False
        if LOGGER.level == logging.NOTSET:
            LOGGER.setLevel(logging.INFO)
    LOGGER.info(message)
