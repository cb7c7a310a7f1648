"""One long-lived tmux control-mode client: the watcher's screen captures, the serve helper's
steering.

A forked `tmux capture-pane` costs about 3 ms of CPU (exec, link, connect) and the watcher
needs one every tick while anything prints; over a control client the same command costs the
server's work only. The client attaches with `ignore-size` (its size never counts, so no
agent's window is resized) and `no-output` (tmux sends no %output for the panes).

Everything a pane shows can appear in a capture, including a line that looks like control
mode's own `%end`: so each capture is framed by two `display-message` lines carrying a fresh
random token no pane can know, and a capture is the text between the first `%begin` after
its opening token and the last `%end`/`%error` before its closing one.

Any surprise (tmux restarted, no session to attach to, a timeout, an old tmux without
`attach -f`) closes the client; the caller then forks tmux as before, and the client is tried
again after RETRY seconds.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import select
import subprocess
import threading
import time
from typing import Dict, List, Optional

from .layout import TMUX_SOCKET

TIMEOUT = 5.0
RETRY = 2.0
_SAFE_ARG = re.compile(r"^[A-Za-z0-9=:_.-]+$")


def safe_arg(word: str) -> bool:
    """True when `word` can stand in a control-mode command line as it is."""
    return bool(_SAFE_ARG.match(word))


class Control:
    def __init__(self) -> None:
        self.proc: Optional[subprocess.Popen] = None
        self.buf = b""
        self.failed_at = -RETRY
        self._lock = threading.Lock()  # the serve helper's requests run on threads

    def close(self) -> None:
        proc, self.proc, self.buf = self.proc, None, b""
        if proc is None:
            return
        with contextlib.suppress(OSError):
            proc.kill()
        proc.wait()
        for f in (proc.stdin, proc.stdout):
            if f is not None:
                f.close()

    def _start(self, session: str) -> bool:
        if not safe_arg(session):
            return False
        now = time.monotonic()
        if now - self.failed_at < RETRY:
            return False
        self.failed_at = now  # cleared once a capture works
        try:
            self.proc = subprocess.Popen(
                [
                    "tmux",
                    "-L",
                    TMUX_SOCKET,
                    "-C",
                    "attach-session",
                    "-f",
                    "ignore-size,no-output",
                    "-t",
                    "=" + session,
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                close_fds=True,
            )
        except OSError:
            self.proc = None
            return False
        return True

    def capture(self, names: List[str]) -> Dict[str, str]:
        """{name: screen} for the panes captured over the control client (maybe none)."""
        names = [n for n in names if safe_arg(n)]
        if not names:
            return {}
        outputs = self.run(names[0], ["capture-pane -p -t =%s:" % name for name in names])
        if outputs is None:
            return {}
        return {names[i]: text for i, text in enumerate(outputs) if text is not None}

    def run(self, session: str, commands: List[str]) -> Optional[List[Optional[str]]]:
        """Each command's output (None where tmux answered %error), or None when the client
        failed: then none, some or all of the commands may have run.

        `session` is where a new client attaches. Commands are tmux command lines: the caller
        keeps anything it did not choose itself out of them (send-keys -H spells text in hex).
        """
        with self._lock:
            if self.proc is None or self.proc.poll() is not None:
                self.close()
                if not self._start(session):
                    return None
            tokens = ["fleet-ctl-" + secrets.token_hex(12) for _ in range(len(commands) + 1)]
            lines = []
            for i, command in enumerate(commands):
                lines.append("display-message -p %s" % tokens[i])
                lines.append(command)
            lines.append("display-message -p %s" % tokens[-1])
            try:
                assert self.proc is not None and self.proc.stdin is not None
                self.proc.stdin.write(("\n".join(lines) + "\n").encode("ascii"))
                self.proc.stdin.flush()
                out = self._read_until(tokens[-1])
            except (OSError, ValueError, AssertionError):
                out = None
            if out is None:
                self.close()
                return None
            self.failed_at = -RETRY
            return _outputs(out, tokens)

    def _read_until(self, last: str) -> Optional[List[str]]:
        """Lines up to the end of the block that printed `last`; None on EOF or timeout."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + TIMEOUT
        want = last.encode("ascii")
        while True:
            at = self.buf.find(b"\n" + want + b"\n")
            if at >= 0:
                end = self.buf.find(b"\n%", at + len(want) + 1)
                stop = self.buf.find(b"\n", end + 1) if end >= 0 else -1
                if stop >= 0:
                    text, self.buf = self.buf[: stop + 1], self.buf[stop + 1 :]
                    return text.decode("utf-8", "replace").split("\n")[:-1]
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self.buf += chunk


def _outputs(lines: List[str], tokens: List[str]) -> List[Optional[str]]:
    wanted = set(tokens)
    where = {}
    for i, line in enumerate(lines):
        if line in wanted:
            where[line] = i
    outputs: List[Optional[str]] = []
    for k in range(len(tokens) - 1):
        if tokens[k] not in where or tokens[k + 1] not in where:
            outputs.append(None)
            continue
        part = lines[where[tokens[k]] + 1 : where[tokens[k + 1]]]
        begin = next((i for i, x in enumerate(part) if x.startswith("%begin ")), None)
        end = next(
            (i for i in range(len(part) - 1, -1, -1) if part[i].startswith(("%end ", "%error "))),
            None,
        )
        if begin is None or end is None or end <= begin or part[end].startswith("%error "):
            outputs.append(None)
            continue
        outputs.append("".join(x + "\n" for x in part[begin + 1 : end]))
    return outputs
