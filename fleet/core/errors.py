"""fleet's error tree: every error a person can meet carries a message that says what to do."""

from __future__ import annotations


class FleetError(Exception):
    """An operation failed in a way the person should read (exit code 1, no traceback)."""

    exit_code = 1


class UsageError(FleetError):
    """The command line or the config is wrong (exit code 2)."""

    exit_code = 2


class NotFound(FleetError):
    pass


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
