"""fleet's own rotating log, in its state directory: what we ask for when someone reports a bug.

Every line names the host and session it is about; no secret is ever logged (configs and
steering text are not written here, only which operation ran where).
"""

from __future__ import annotations

import logging
import os
from logging.handlers import RotatingFileHandler
from pathlib import Path

from .paths import ensure_state_dir, state_dir

LOG_NAME = "fleet.log"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _PrivateRotatingHandler(RotatingFileHandler):
    def _open(self):  # type: ignore[no-untyped-def]
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.chmod(self.baseFilename, 0o600)
        return os.fdopen(fd, "a", encoding="utf-8")


def log_path() -> Path:
    return state_dir() / LOG_NAME


def setup_logging(verbose: bool = False) -> None:
    root = logging.getLogger("fleet")
    if root.handlers:
        return
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False
    try:
        path = ensure_state_dir() / LOG_NAME
        handler: logging.Handler = _PrivateRotatingHandler(
            path, maxBytes=2 * 1024 * 1024, backupCount=3
        )
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    except OSError:
        root.addHandler(logging.NullHandler())
    if verbose:
        stderr = logging.StreamHandler()
        stderr.setFormatter(logging.Formatter("fleet: %(name)s: %(message)s"))
        root.addHandler(stderr)
