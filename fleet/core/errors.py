"""fleet's error tree: every error a person can meet carries a message that says what to do.

Exit codes, one rule for every command: 0 done, or already so (stopping a stopped session,
resuming a running one: the command says so); 1 fleet tried and it failed (a host, its helper,
a stale review, the local store); 2 the command cannot mean anything as written (usage, the
config, a host, agent or session name that does not exist); 130 interrupted.
"""

from __future__ import annotations


class FleetError(Exception):
    """An operation failed in a way the person should read (exit code 1, no traceback)."""

    exit_code = 1


class UsageError(FleetError):
    """The command line or the config is wrong (exit code 2)."""

    exit_code = 2


class NotFound(FleetError):
    """Something the command names does not exist: a host, an agent, a session (exit code 2:
    the command cannot mean anything as written)."""

    exit_code = 2


class HostError(FleetError):
    """Something about one host; `host` names it."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host
        self.reason = message


class HostUnreachable(HostError):
    pass


class HostKeyError(HostError):
    pass


class AuthFailed(HostError):
    pass


class HostSetupError(HostError):
    """The host lacks something fleet needs (tmux, git, python3)."""


class RemoteError(HostError):
    """The helper on the host refused or failed an operation."""

    def __init__(self, host: str, kind: str, message: str) -> None:
        super().__init__(host, message)
        self.kind = kind


REFUSED_KINDS = frozenset(
    {
        "at-prompt", "bad-request", "branch", "changed", "conflict", "exists", "moved",
        "no-dialog", "no-option", "no-remote", "not-found", "nothing", "running", "stale",
    }
)  # fmt: skip
"""Kinds of RemoteError by which the host declined an action on purpose (nothing broke)."""


def outcome_of(exc: BaseException | None) -> tuple[str, str]:
    """How an action ended, for the audit log: ("done", ""), ("refused", why) when fleet or
    the host declined it on purpose, ("failed", why) when something broke."""
    if exc is None:
        return "done", ""
    reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    if isinstance(exc, UsageError | NotFound) or getattr(exc, "refused", False):
        return "refused", reason
    if isinstance(exc, RemoteError) and exc.kind in REFUSED_KINDS:
        return "refused", reason
    return "failed", reason
