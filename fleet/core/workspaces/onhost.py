"""A pool's engine on a fleet host (`host = "NAME"`): podman's or docker's command line run there
by fleet's helper (the `engine` op: an argv list, never a shell line), over the host's one
SSH connection. The workspace's keys travel in that op too (hostside/engine.py writes them to
a private directory, files 0600, removed once copied in: a host without SFTP is fine), and
ssh then reaches the workspace through the host's connection (ssh.HostLink's `via`), to the
port the engine published on the host's loopback.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import HostError, RemoteError
from ..remote.client import HelperClient
from ..remote.untrusted import engine_answer
from ..textsafe import said
from .argv import CALL_TIMEOUT
from .engine import EngineError

log = logging.getLogger("fleet.workspaces")

ANSWER_SLACK = 15.0  # seconds the helper's answer may take beyond the engine's own timeout


class HostRunner:
    """The engine's commands through the helper on `host`."""

    def __init__(self, host: str, helper: HelperClient) -> None:
        self.via = host
        self.helper = helper

    async def run(
        self,
        step: str,
        argv: list[str],
        *,
        timeout: float = CALL_TIMEOUT,
        files: Path | None = None,
    ) -> str:
        program, args = argv[0], argv[1:]
        log.info("%s on %s: %s", step, self.via, argv)
        request: dict[str, object] = {"program": program, "args": args, "timeout": timeout}
        if files is not None:
            # Secrets (the workspace's host key): in the request only, never logged.
            request["files"] = {p.name: p.read_text() for p in sorted(files.iterdir())}
        try:
            raw = await self.helper.call("engine", request, timeout=timeout + ANSWER_SLACK)
            said_ = engine_answer(self.via, raw)
        except RemoteError as exc:
            raise EngineError(step, f"on host {self.via}: {exc.reason}") from None
        except HostError as exc:
            raise EngineError(step, f"cannot reach host {self.via}: {exc.reason}") from None
        if said_.code != 0:
            lines = said_.err.strip().splitlines()
            last = said(lines[-1] if lines else f"exit status {said_.code}", 300)
            what = args[0] if args else ""
            raise EngineError(step, f"{program} {what} failed on host {self.via}: {last}")
        return said_.out
