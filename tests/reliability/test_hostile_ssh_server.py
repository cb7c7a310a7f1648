"""Anyone who answers on a host's address can talk before its key is checked: an SSH server
that sends its version banner and then a DISCONNECT whose reason holds terminal escapes
(OSC 52 to set the clipboard, a window title, colours, a bell). Every command that reaches
the host shows the reason, inert, and nothing of it reaches the terminal."""

from __future__ import annotations

import asyncio
import os
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REASON = (
    "go away \x1b]52;c;ZWNobyBwd25lZA==\x07 clipboard \x1b]0;owned title\x07"
    "\x1b[31mred\x1b[0m \x9b2J bell\x07 \u202eesrever"
)
ESCAPES = ("\x1b", "\x07", "\x9b", "\u202e")


def disconnect_packet(reason: str) -> bytes:
    """SSH_MSG_DISCONNECT in the clear, as a server may send it before key exchange."""

    def string(text: str) -> bytes:
        data = text.encode("utf-8")
        return struct.pack(">I", len(data)) + data

    payload = bytes([1]) + struct.pack(">I", 2) + string(reason) + string("")
    padding = 8 - (5 + len(payload)) % 8
    padding += 8 if padding < 4 else 0
    return struct.pack(">IB", 1 + len(payload) + padding, padding) + payload + b"\0" * padding


class HostileServer:
    """A TCP server on loopback that does only that, to every connection."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self.connections = 0
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
        try:
            await asyncio.wait_for(reader.readline(), 5)  # the client's banner
            writer.write(disconnect_packet(REASON))
            await writer.drain()
        except (OSError, TimeoutError):
            pass
        writer.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def hostile_fleet(tmp_path: Path) -> Iterator[dict[str, str]]:
    server = HostileServer()
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(
        f"Host evil\n  HostName 127.0.0.1\n  Port {server.port}\n  User nobody\n"
        f"  IdentitiesOnly yes\n  UserKnownHostsFile {tmp_path / 'known_hosts'}\n"
        "  GlobalKnownHostsFile /dev/null\n"
    )
    (tmp_path / "known_hosts").write_text("")
    config = tmp_path / "fleet.toml"
    config.write_text(
        f'[ssh]\nconfig = "{ssh_config}"\nconnect_timeout = 5\n\n[hosts.evil]\nssh = "evil"\n'
    )
    env = dict(os.environ, FLEET_CONFIG=str(config), FLEET_HOME=str(tmp_path / "state"))
    env["HOME"] = str(tmp_path)
    env["PYTHONPATH"] = str(ROOT)
    try:
        yield env
    finally:
        server.stop()


def fleet(env: dict[str, str], *args: str, timeout: float = 60) -> str:
    """Everything `fleet ARGS` wrote, stdout and stderr (a `watch` is stopped at `timeout`)."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "fleet", *args],
            env=env,
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        out, err = proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        out, err = exc.stdout or b"", exc.stderr or b""
    return (out + err).decode("utf-8", "replace")


@pytest.mark.parametrize(
    "args",
    [("hosts",), ("ls",), ("screen", "evil/x"), ("trust", "evil", "--yes"), ("doctor",)],
    ids=["hosts", "ls", "screen", "trust", "doctor"],
)
def test_a_disconnect_reason_reaches_no_terminal(
    hostile_fleet: dict[str, str], args: tuple[str, ...]
) -> None:
    shown = fleet(hostile_fleet, *args)
    assert "go away" in shown and "clipboard" in shown, shown
    for escape in ESCAPES:
        assert escape not in shown, (args, ascii(shown))


def test_watch_shows_the_reason_inert_too(hostile_fleet: dict[str, str]) -> None:
    shown = fleet(hostile_fleet, "watch", timeout=6)
    assert "go away" in shown, shown
    for escape in ESCAPES:
        assert escape not in shown, ascii(shown)
