"""What can go wrong with the store, said as what to do: StoreError, and SQLite's errors sorted
into the few cases the store treats differently (no room, busy, unusable)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..errors import FleetError


class StoreError(FleetError):
    """The local store cannot be used or a write to it failed; the message says what to do."""

    exit_code = 1


def unusable(path: Path, why: object) -> StoreError:
    return StoreError(
        f"{path} is not a usable fleet database ({why}): move it away (for example to "
        f"{path.name}.broken) and run fleet again to start afresh (sessions are recovered from "
        "the hosts)"
    )


def errname(exc: BaseException) -> str:
    return str(getattr(exc, "sqlite_errorname", "") or "")


def no_room(exc: BaseException) -> bool:
    """The disk is full or failing: nothing is wrong with the data, retrying later may work."""
    return isinstance(exc, sqlite3.OperationalError) and errname(exc).startswith(
        ("SQLITE_FULL", "SQLITE_IOERR")
    )


def busy(exc: BaseException) -> bool:
    """Another program holds the file's lock."""
    return isinstance(exc, sqlite3.OperationalError) and errname(exc).startswith(
        ("SQLITE_BUSY", "SQLITE_LOCKED")
    )


def translate(path: Path, exc: sqlite3.Error) -> StoreError:
    name = errname(exc)
    if name.startswith("SQLITE_FULL"):
        return StoreError(f"cannot write {path}: the disk is full ({exc}); free some space")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StoreError(f"{path} is locked by another program: close it or try again ({exc})")
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_READONLY")):
        return StoreError(f"cannot write {path} ({exc}): check the disk and the file's owner")
    return unusable(path, exc)
