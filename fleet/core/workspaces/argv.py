"""Running an engine's command line: an argv list to asyncio's subprocess, never a shell
string; a failure is an EngineError naming the step and the last line the program said.

A Runner is where an engine's commands run: this machine (LocalRunner, here) or a fleet host
through its helper (onhost.HostRunner); the engine's code is the same for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Protocol

from ..textsafe import said
from .engine import EngineError

log = logging.getLogger("fleet.workspaces")

CALL_TIMEOUT = 120.0  # seconds; making a container from a local image takes a few


async def run(
    step: str, argv: list[str], *, stdin: bytes | None = None, timeout: float = CALL_TIMEOUT
) -> str:
    """What `argv` printed on stdout (stdin: bytes to feed it, else nothing)."""
    program = argv[0]
    log.info("%s: %s", step, argv)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError:
        raise EngineError(
            step, f"{program} is not installed on this machine (not found on PATH)"
        ) from None
    except OSError as exc:
        raise EngineError(step, f"cannot run {program}: {exc.strerror or exc}") from None
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise EngineError(step, f"{program} gave no answer within {timeout:g} s") from None
    if proc.returncode != 0:
        lines = err.decode("utf-8", "replace").strip().splitlines()
        said_last = said(lines[-1] if lines else f"exit status {proc.returncode}", 300)
        what = argv[1] if len(argv) > 1 else ""
        raise EngineError(step, f"{program} {what} failed: {said_last}".replace("  ", " "))
    return out.decode("utf-8", "replace")


FILES = "{files}"
"""An argument that Runner.run replaces by where the directory it was given is readable."""


class Runner(Protocol):
    via: str  # the fleet host whose connection reaches what the engine makes; "": none

    async def run(
        self,
        step: str,
        argv: list[str],
        *,
        timeout: float = CALL_TIMEOUT,
        files: Path | None = None,
    ) -> str:
        """What `argv` printed on stdout; EngineError naming `step` when it failed. With
        `files` (a directory of a few small files), an argument FILES is replaced by where
        the engine reads them, for as long as the command runs."""
        ...


class LocalRunner:
    """The engine on this machine."""

    via = ""

    async def run(
        self,
        step: str,
        argv: list[str],
        *,
        timeout: float = CALL_TIMEOUT,
        files: Path | None = None,
    ) -> str:
        if files is not None:
            argv = [str(files) if a == FILES else a for a in argv]
        return await run(step, argv, timeout=timeout)
