"""Steering over the serve helper's tmux control client (ctlsend.py), on a real local tmux: the
bytes the agent's terminal receives are exactly the text, byte for byte the same as the forked
`send-keys -l` path, whatever the text holds."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.core.remote.hostside import ctlsend, tmux, tmuxctl
from tests.integration.fleetrun import wait_for

# The pane's program: its terminal raw, every byte it reads appended to a file.
RAW_RECORDER = """
import os, sys, tty
tty.setraw(0)
open(sys.argv[1] + ".ready", "w").close()
with open(sys.argv[1], "ab", buffering=0) as out:
    while True:
        data = os.read(0, 65536)
        if not data:
            break
        out.write(data)
"""

TEXTS = [
    "plain words",
    "ends with a semicolon;",
    "ends escaped \\;",
    "quotes ' \" ` $(id) ${HOME} %s #{session_name} \\n",
    "Escape C-c Enter -x --",
    "ünïcødé → ✓ 漢字 🎉",
    "line one\nline two\ttab \x1b[31mred",
    "x" * 5000,  # more than one send-keys command
]


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    sock = f"fleet-ctlsend-{secrets.token_hex(4)}"  # a server being killed is never reused
    for module in (tmuxctl, tmux):
        monkeypatch.setattr(module, "TMUX_SOCKET", sock)
    base = ["tmux", "-L", sock]
    try:
        yield base
    finally:
        subprocess.run([*base, "kill-server"], capture_output=True)


def start_recorder(base: list[str], tmp_path: Path, name: str) -> Path:
    script = tmp_path / "raw_recorder.py"
    script.write_text(RAW_RECORDER)
    log = tmp_path / f"{name}.bytes"
    log.touch()
    cmd = f"{sys.executable} {script} {log}"
    subprocess.run(
        [*base, "new-session", "-d", "-s", name, "-x", "80", "-y", "20", cmd], check=True
    )
    # Only once its terminal is raw: before, the line discipline would turn Enter into "\n".
    ready = Path(f"{log}.ready")
    wait_for(ready.exists, what=f"{name}'s recorder to start")
    return log


def test_control_typed_text_matches_the_forked_path_byte_for_byte(
    server: list[str], tmp_path: Path
) -> None:
    over_control = start_recorder(server, tmp_path, "fleet-ctl")
    forked = start_recorder(server, tmp_path, "fleet-fork")
    control = tmuxctl.Control()
    try:
        state = ctlsend.pane_state(control, "fleet-ctl")
        assert state is not None and state[0] is True
        want = b""
        for text in TEXTS:
            ctlsend.type_bytes(control, "fleet-ctl", text.encode("utf-8"), enter=True)
            tmux.send_literal("fleet-fork", text)
            tmux.send_keys("fleet-fork", ["Enter"])
            want += text.encode("utf-8") + b"\r"
        for log in (over_control, forked):
            try:
                wait_for(lambda log=log: log.read_bytes() == want, what=f"every text in {log.name}")
            except AssertionError:
                got = log.read_bytes()
                at = next(
                    (i for i in range(min(len(got), len(want))) if got[i] != want[i]),
                    min(len(got), len(want)),
                )
                near = slice(max(0, at - 20), at + 20)
                raise AssertionError(
                    f"{log.name}: {len(got)} bytes of {len(want)}, first difference at {at}: "
                    f"got {got[near]!r}, want {want[near]!r}"
                ) from None
    finally:
        control.close()


def test_a_missing_or_dead_pane_is_told_apart_from_a_broken_client(
    server: list[str], tmp_path: Path
) -> None:
    start_recorder(server, tmp_path, "fleet-live")
    subprocess.run([*server, "set-option", "-g", "remain-on-exit", "on"], check=True)
    subprocess.run([*server, "new-session", "-d", "-s", "fleet-dead", "true"], check=True)
    wait_for(
        lambda: (
            subprocess.run(
                [*server, "display-message", "-p", "-t", "=fleet-dead:", "#{pane_dead}"],
                capture_output=True,
                text=True,
            ).stdout.strip()
            == "1"
        ),
        what="the pane to die",
    )
    control = tmuxctl.Control()
    try:
        assert ctlsend.pane_state(control, "fleet-live") is not None
        dead = ctlsend.pane_state(control, "fleet-dead")
        missing = ctlsend.pane_state(control, "fleet-missing")
        assert dead is not None and dead[0] is False
        assert missing is not None and missing[0] is False
        with pytest.raises(Exception, match="refused to type"):
            ctlsend.type_bytes(control, "fleet-missing", b"x", enter=True)
        assert ctlsend.pane_state(control, "bad name;kill-server") is None
    finally:
        control.close()
