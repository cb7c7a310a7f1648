"""fleet's own rotating log, in its state directory: what we ask for when someone reports a bug.

Every line names the host and session it is about; no secret is ever logged (configs and
steering text are not written here, only which operation ran where).
"""

from __future__ import annotations

import logging
import os
import re
from logging.handlers import RotatingFileHandler
from pathlib import Path

from .paths import ensure_state_dir, state_dir

LOG_NAME = "fleet.log"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "[redacted]"

# Names that say "this value is a secret": FOO_TOKEN, API_KEY, --api-key, password, ...
_SECRET_NAME = (
    r"[A-Za-z0-9_-]*(?:TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|API[_-]?KEY|ACCESS[_-]?KEY"
    r"|PRIVATE[_-]?KEY|AUTH(?!OR)|CREDENTIALS?|COOKIE)[A-Za-z0-9_-]*"
)
_VALUE = r"""(?:'[^']*'|"(?:[^"\\]|\\.)*"|[^\s'";&|]+)"""
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # NAME=value (an env assignment, a --option=value, a URL query parameter)
    (re.compile(rf"(?i)(\b{_SECRET_NAME}=){_VALUE}"), rf"\g<1>{REDACTED}"),
    # --option value
    (re.compile(rf"(?i)(--{_SECRET_NAME}\s+)(?!-){_VALUE}"), rf"\g<1>{REDACTED}"),
    # user:password@ in a URL
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"), rf"\g<1>{REDACTED}@"),
    # Authorization headers
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\g<1> {REDACTED}"),
    # Well-known token shapes: OpenAI/Anthropic (sk-), GitHub, GitLab, Slack, AWS, Google.
    (
        re.compile(
            r"\b(?:sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"
            r"|glpat-[A-Za-z0-9_-]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}"
            r"|AIza[0-9A-Za-z_-]{35})"
        ),
        REDACTED,
    ),
    # Slack / Discord webhook paths carry their token in the URL itself.
    (
        re.compile(r"(hooks\.slack\.com/services/|discord(?:app)?\.com/api/webhooks/)\S+"),
        rf"\g<1>{REDACTED}",
    ),
)


def redact(text: str) -> str:
    """``text`` with what looks like a secret replaced by [redacted]: values of variables and
    options named like secrets (FOO_TOKEN=..., --api-key ...), URL passwords, bearer tokens
    and well-known token shapes. For commands that go into the audit log and for log lines;
    it cannot know every secret, so what must never be stored is better never passed."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _PrivateRotatingHandler(RotatingFileHandler):
    def _open(self):  # type: ignore[no-untyped-def]
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.chmod(self.baseFilename, 0o600)
        return os.fdopen(fd, "a", encoding="utf-8")

    def handleError(self, record: logging.LogRecord) -> None:
        # fleet's own log is a diagnostic aid: when it cannot be written (a full disk), the
        # person's command goes on and says what failed; a logging traceback would bury that.
        pass


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
        handler.setFormatter(_RedactingFormatter(FORMAT))
        root.addHandler(handler)
    except OSError:
        root.addHandler(logging.NullHandler())
    if verbose:
        stderr = logging.StreamHandler()
        stderr.setFormatter(_RedactingFormatter("fleet: %(name)s: %(message)s"))
        root.addHandler(stderr)
