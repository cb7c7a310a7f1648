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

The client's output is read all the time, by a thread of its own, not only while a command
waits: tmux tells every control client about every session made or ended and every paste
buffer (no-output silences only the panes' output), and a client that leaves that unread fills
its pipe. tmux then keeps the rest for it; and once told to exit (`tmux kill-server`) it ends
every session but waits, without a timeout, until each control client has taken everything
owed to it, accepting and at once closing every new connection meanwhile: each tmux command
says "server exited unexpectedly" until that client goes. Read all the time, the pipe never
fills, and the end of the client's output (its server gone) is noticed at once.

Any surprise (tmux restarted, no session to attach to, a timeout, an old tmux without
`attach -f`) closes the client; the caller then forks tmux as before, and the client is tried
again after RETRY seconds. The client never starts a server (`-N`): a server it started would
have no session and exit at once, and a `new-session` meeting it on its way out fails.
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
MAX_PENDING = 64 * 1024 * 1024  # bytes of one request's output kept; more fails the request
_POLL = 0.5  # seconds between the reader's looks at whether its client was closed
_SAFE_ARG = re.compile(r"^[A-Za-z0-9=:_.-]+$")


def safe_arg(word: str) -> bool:
    """True when `word` can stand in a control-mode command line as it is."""
    return bool(_SAFE_ARG.match(word))


def client_argv(session: str) -> List[str]:
    """How fleet runs its control clients (tmuxhealth.py finds them by it)."""
    return [
        "tmux",
        "-N",
        "-L",
        TMUX_SOCKET,
        "-C",
        "attach-session",
        "-f",
        "ignore-size,no-output",
        "-t",
        "=" + session,
    ]


class Control:
    def __init__(self) -> None:
        self.proc: Optional[subprocess.Popen] = None
        self.failed_at = -RETRY
        self._lock = threading.Lock()  # one request at a time (the serve helper uses threads)
        # Guards what the reader shares: the output of the request under way, and the end.
        self._cond = threading.Condition()
        self._buf = b""
        self._waiting = False  # a request is reading: keep what arrives (else drop it)
        self._ended = False  # the client's output ended: its server is gone, or it is

    def close(self) -> None:
        with self._cond:
            proc, self.proc = self.proc, None
            self._buf, self._waiting, self._ended = b"", False, False
            self._cond.notify_all()
        if proc is None:
            return
        with contextlib.suppress(OSError):
            proc.kill()
        proc.wait()
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        # proc.stdout belongs to its reader, which closes it: closed here, its number could
        # be reused by another file while the reader still reads it.

    def alive(self) -> bool:
        with self._cond:
            return self.proc is not None and not self._ended and self.proc.poll() is None

    def _start(self, session: str) -> bool:
        if not safe_arg(session):
            return False
        now = time.monotonic()
        if now - self.failed_at < RETRY:
            return False
        self.failed_at = now  # cleared once a capture works
        try:
            proc = subprocess.Popen(
                client_argv(session),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                close_fds=True,
            )
        except OSError:
            return False
        with self._cond:
            self.proc, self._buf, self._waiting, self._ended = proc, b"", False, False
        threading.Thread(target=self._read, args=(proc,), name="tmux-control", daemon=True).start()
        return True

    def _read(self, proc: subprocess.Popen) -> None:
        """The reader: everything the client prints, as it comes, until its end or its close."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        try:
            while True:
                with self._cond:
                    if self.proc is not proc:
                        return
                try:
                    ready = select.select([fd], [], [], _POLL)[0]
                    chunk = os.read(fd, 1 << 16) if ready else None
                except OSError:
                    chunk = b""
                if chunk is None:
                    continue
                with self._cond:
                    if self.proc is not proc:
                        return
                    if not chunk:
                        self._ended = True
                    elif self._waiting:
                        self._buf += chunk
                    self._cond.notify_all()
                if not chunk:
                    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                        proc.wait(timeout=TIMEOUT)  # no zombie left until the next request
                    return
        finally:
            proc.stdout.close()

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
            if not self.alive():
                self.close()
                if not self._start(session):
                    return None
            tokens = ["fleet-ctl-" + secrets.token_hex(12) for _ in range(len(commands) + 1)]
            lines = []
            for i, command in enumerate(commands):
                lines.append("display-message -p %s" % tokens[i])
                lines.append(command)
            lines.append("display-message -p %s" % tokens[-1])
            with self._cond:
                # What came before is tmux's news to every client, never an answer to these.
                self._buf, self._waiting = b"", True
            try:
                assert self.proc is not None and self.proc.stdin is not None
                self.proc.stdin.write(("\n".join(lines) + "\n").encode("ascii"))
                self.proc.stdin.flush()
                out = self._read_until(tokens[-1])
            except (OSError, ValueError, AssertionError):
                out = None
            finally:
                with self._cond:
                    self._waiting = False
            if out is None:
                self.close()
                return None
            self.failed_at = -RETRY
            return _outputs(out, tokens)

    def _read_until(self, last: str) -> Optional[List[str]]:
        """Lines up to the end of the block that printed `last`; None on its end or timeout."""
        deadline = time.monotonic() + TIMEOUT
        want = b"\n" + last.encode("ascii") + b"\n"
        with self._cond:
            while True:
                buf = self._buf
                at = buf.find(want)
                if at >= 0:
                    end = buf.find(b"\n%", at + len(want) - 1)
                    stop = buf.find(b"\n", end + 1) if end >= 0 else -1
                    if stop >= 0:
                        self._buf = buf[stop + 1 :]
                        return buf[: stop + 1].decode("utf-8", "replace").split("\n")[:-1]
                left = deadline - time.monotonic()
                if self._ended or self.proc is None or left <= 0 or len(buf) > MAX_PENDING:
                    return None
                self._cond.wait(left)


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
