"""tmux on the host, always through argv lists (never a shell string) on fleet's own socket."""

from __future__ import annotations

import re
import secrets
import shlex
import subprocess
import time

from .layout import TMUX_SOCKET, HelperError

KEY_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+-]{0,15}$")
_PANE_FORMAT = (
    "#{session_name}\t#{pane_dead}\t#{pane_dead_status}\t#{pane_pid}\t#{pane_dead_signal}"
)


class Pane:
    __slots__ = ("dead", "exit_code", "pid", "session")

    def __init__(self, session: str, dead: bool, exit_code, pid: int) -> None:
        self.session = session
        self.dead = dead
        self.exit_code = exit_code
        self.pid = pid


def tmux(*args: str, input_bytes: bytes = b"", check: bool = True) -> str:
    try:
        proc = subprocess.run(
            ["tmux", "-L", TMUX_SOCKET, *args],
            input=input_bytes,
            capture_output=True,
            timeout=30,
        )
    except FileNotFoundError:
        raise HelperError("missing-tool", "tmux is not installed on this host") from None
    if check and proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise HelperError("tmux", "tmux %s failed: %s" % (args[0], err or proc.returncode))
    return proc.stdout.decode("utf-8", "replace")


def panes() -> dict:
    """Every fleet pane on this host by tmux session name (one tmux call for all sessions)."""
    out = tmux("list-panes", "-a", "-F", _PANE_FORMAT, check=False)
    result: dict[str, Pane] = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) != 5:
            continue
        name, dead, status, pid, signal = parts
        # tmux can mark a pane dead a moment before it has the exit status (code None then).
        code = int(status) if status.lstrip("-").isdigit() else None
        if code is None and signal.isdigit():
            code = 128 + int(signal)
        result.setdefault(name, Pane(name, dead == "1", code, int(pid) if pid.isdigit() else 0))
    return result


def target(name: str) -> str:
    # "=" asks for an exact session name, never a prefix match.
    return "=" + name + ":"


def capture(name: str) -> str:
    return tmux("capture-pane", "-p", "-t", target(name), check=True)


# A server that is exiting by itself (its last session just ended) closes connections for a
# moment: a new session that meets it is asked for again, this many times, this far apart.
LOST_SERVER = "server exited unexpectedly"
START_TRIES, START_GAP = 3, 0.3


def start(name: str, cwd: str, argv_command: str, log_path: str, width: int, height: int) -> None:
    """Start a detached session whose pane runs `argv_command` (a fixed helper invocation)."""
    for attempt in range(START_TRIES):
        try:
            tmux(
                "new-session",
                "-d",
                "-s",
                name,
                "-x",
                str(width),
                "-y",
                str(height),
                "-c",
                cwd,
                argv_command,
            )
            break
        except HelperError as e:
            # The server closed the connection before it read the command: nothing ran.
            if LOST_SERVER not in e.message or attempt == START_TRIES - 1:
                raise
            time.sleep(START_GAP)
    tmux("set-option", "-t", target(name), "remain-on-exit", "on")
    # tmux >= 3.3 writes "Pane is dead (...)" over the agent's last screen; fleet shows the exit
    # itself. Older tmux has no such option: never mind.
    tmux("set-option", "-t", target(name), "remain-on-exit-format", "", check=False)
    tmux("set-option", "-t", target(name), "history-limit", "5000")
    tmux("pipe-pane", "-t", target(name), "-o", "exec cat >> " + shlex.quote(log_path))


# tmux refuses a command of more than about 16 KB ("command too long"): long text is typed in
# pieces of at most this many characters (4 bytes each at most in UTF-8).
LITERAL_CHUNK = 2048


def send_literal(name: str, text: str) -> None:
    # -l: every character is typed as itself; "--" keeps text like "-x" from being an option.
    for start in range(0, len(text), LITERAL_CHUNK):
        piece = text[start : start + LITERAL_CHUNK]
        if piece.endswith(";"):
            # tmux reads an argument's trailing ";" as a command separator (and a trailing
            # "\;" as an escaped one): ";" alone was lost, "a\;" typed "a;". Escaped, it types.
            piece = piece[:-1] + "\\;"
        tmux("send-keys", "-t", target(name), "-l", "--", piece)


def send_keys(name: str, keys) -> None:
    for key in keys:
        if not isinstance(key, str) or not KEY_NAME_RE.match(key):
            raise HelperError("bad-request", "invalid tmux key name: %r" % (key,))
    tmux("send-keys", "-t", target(name), *keys)


def paste(name: str, text: str) -> None:
    buffer = "fleet-" + name
    tmux("load-buffer", "-b", buffer, "-", input_bytes=text.encode("utf-8"))
    # -p: bracketed paste when the application asked for it; -d: drop the buffer afterwards.
    tmux("paste-buffer", "-p", "-d", "-b", buffer, "-t", target(name))


def kill(name: str) -> None:
    tmux("kill-session", "-t", "=" + name, check=False)


def version() -> str:
    try:
        proc = subprocess.run(["tmux", "-V"], capture_output=True, timeout=10)
    except FileNotFoundError:
        return ""
    return proc.stdout.decode("utf-8", "replace").strip()


def capture_many(names: list) -> dict:
    """{name: screen} for the panes one tmux call could capture (the others are left out).

    A line no pane can forge (a fresh random token) follows each screen. tmux stops at the
    first command that fails: screens after that are simply missing and captured one by one.
    """
    if len(names) < 2:
        return {}
    sep = "fleet-capture-" + secrets.token_hex(12)
    args = []
    for name in names:
        args += ["capture-pane", "-p", "-t", target(name), ";"]
        args += ["display-message", "-p", sep, ";"]
    try:
        out = tmux(*args[:-1], check=False)
    except Exception:
        return {}
    parts = out.split(sep + "\n")
    return dict(zip(names, parts[:-1]))  # noqa: B905 (no strict= before Python 3.10)
