"""The helper's `serve` loop (hostside/serve.py) over real pipes, with stand-in operations:
answers matched by id, a slow op never holding up a fast one, malformed lines answered
without ending the server, EOF ending it once the work under way has answered."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from fleet.core.remote.hostside import main as helper_main
from fleet.core.remote.hostside.serve import Server

DEADLINE = 30.0  # only a hang reaches it


class Ops:
    """Stand-in operations: `slow` blocks until released, `fast` answers at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.slow_started = threading.Event()
        self.done: list[str] = []

    def handle(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        if op == "slow":
            self.slow_started.set()
            if not self.release.wait(DEADLINE):
                raise AssertionError("slow op never released")
        if op == "boom":
            raise RuntimeError("op failed")
        self.done.append(op)
        return {"ok": True, "result": {"op": op, "echo": args.get("x")}}


class Running:
    """A Server on a thread, fed through a pipe, its answers read from another."""

    def __init__(self, ops: Ops, max_line: int = 1 << 20) -> None:
        rin, self._win = os.pipe()
        rout, wout = os.pipe()
        self.to_server: BinaryIO = os.fdopen(self._win, "wb")
        self.answers: BinaryIO = os.fdopen(rout, "rb")
        server = Server(
            os.fdopen(rin, "rb"),
            os.fdopen(wout, "wb"),
            helper_main.parse_request,
            ops.handle,
            max_line,
        )
        self.code: int | None = None

        def run() -> None:
            self.code = server.run()
            server.out.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def send(self, data: bytes) -> None:
        self.to_server.write(data)
        self.to_server.flush()

    def request(self, rid: int, op: str, **args: Any) -> None:
        self.send(json.dumps({"id": rid, "op": op, "args": args}).encode() + b"\n")

    def answer(self, deadline: float = DEADLINE) -> dict[str, Any]:
        ready, _, _ = select.select([self.answers], [], [], deadline)
        assert ready, "no answer came"
        line = self.answers.readline()
        assert line.endswith(b"\n"), f"the server closed its output: {line[:200]!r}"
        value = json.loads(line)
        assert isinstance(value, dict)
        return value

    def close_input(self) -> None:
        self.to_server.close()


@pytest.fixture
def ops() -> Iterator[Ops]:
    o = Ops()
    yield o
    o.release.set()


def test_a_slow_request_does_not_hold_up_a_fast_one(ops: Ops) -> None:
    srv = Running(ops)
    srv.request(1, "slow")
    assert ops.slow_started.wait(DEADLINE)
    srv.request(2, "fast", x="steer")
    first = srv.answer()  # would block here for good if requests ran one after another
    assert first == {"id": 2, "ok": True, "result": {"op": "fast", "echo": "steer"}}
    ops.release.set()
    assert srv.answer()["id"] == 1
    srv.close_input()
    srv.thread.join(DEADLINE)
    assert srv.code == 0


def test_the_id_comes_first_on_every_answer(ops: Ops) -> None:
    srv = Running(ops)
    srv.request(7, "fast", x="a" * 1000)
    line = srv.answers.readline()
    assert line.startswith(b'{"id": 7, '), line[:40]
    srv.close_input()


@pytest.mark.parametrize(
    ("line", "rid", "says"),
    [
        (b"not json\n", None, "expected one JSON object"),
        (b"[1, 2]\n", None, "not an object"),
        (b'{"op": "fast"}\n', None, "id must be"),
        (b'{"id": true, "op": "fast"}\n', None, "id must be"),
        (b'{"id": -1, "op": "fast"}\n', None, "id must be"),
        (b'{"id": 3}\n', 3, "missing 'op'"),
        (b'{"id": 4, "op": 5}\n', 4, "op must be a string"),
        (b'{"id": 5, "op": "fast", "args": [1]}\n', 5, "args an object"),
        (b'{"id": 6, "op": "\xff\xfe"}\n', None, "expected one JSON object"),
        (b"[" * 100_000 + b"]" * 100_000 + b"\n", None, "expected one JSON object"),
        (b'{"id": 8, "op": "boom"}\n', 8, "RuntimeError: op failed"),
    ],
)
def test_a_malformed_line_gets_an_error_and_the_server_goes_on(
    ops: Ops, line: bytes, rid: int | None, says: str
) -> None:
    srv = Running(ops)
    srv.send(line)
    bad = srv.answer()
    assert bad["id"] == rid and bad["ok"] is False, bad
    assert says in bad["error"]["message"], bad
    srv.request(9, "fast", x="after")
    assert srv.answer() == {"id": 9, "ok": True, "result": {"op": "fast", "echo": "after"}}
    srv.close_input()
    srv.thread.join(DEADLINE)
    assert srv.code == 0


def test_an_over_long_line_is_refused_without_losing_the_next(ops: Ops) -> None:
    srv = Running(ops, max_line=1000)
    # Written from a thread: the server reads it while this test reads the answers.
    writer = threading.Thread(
        target=srv.send,
        args=(b'{"id": 1, "op": "fast", "args": {"x": "' + b"y" * 5_000_000 + b'"}}\n',),
    )
    writer.start()
    bad = srv.answer()
    assert bad["id"] is None and "longer than 1000 bytes" in bad["error"]["message"], bad
    writer.join(DEADLINE)
    srv.request(2, "fast", x="next")
    assert srv.answer() == {"id": 2, "ok": True, "result": {"op": "fast", "echo": "next"}}
    assert ops.done == ["fast"]
    srv.close_input()


def test_eof_ends_the_server_after_the_work_under_way_answered(ops: Ops) -> None:
    srv = Running(ops)
    srv.request(1, "slow")
    assert ops.slow_started.wait(DEADLINE)
    srv.close_input()
    srv.thread.join(0.2)
    assert srv.thread.is_alive(), "the server ended before the slow request answered"
    ops.release.set()
    assert srv.answer()["id"] == 1
    srv.thread.join(DEADLINE)
    assert not srv.thread.is_alive() and srv.code == 0
    assert srv.answers.readline() == b""  # its output closed: nothing more


def test_streams_are_refused_in_serve_mode() -> None:
    answer = helper_main.run_plain("watch", {})
    assert answer["ok"] is False and answer["error"]["kind"] == "bad-request"
    assert "channel of its own" in answer["error"]["message"]


def test_the_helper_process_serves_and_ends_at_eof(tmp_path: Path) -> None:
    """`python -m ...hostside serve` as the host runs it: the protocol is on the original
    stdin/stdout, and the process exits 0 when stdin ends."""
    requests = b"".join(
        json.dumps({"id": i, "op": "nosuchop", "args": {}}).encode() + b"\n" for i in range(1, 4)
    )
    proc = subprocess.run(
        [sys.executable, "-m", "fleet.core.remote.hostside", "serve"],
        input=requests + b"garbage\n",
        capture_output=True,
        env={**os.environ, "HOME": str(tmp_path)},
        timeout=DEADLINE,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sorted(a["id"] for a in answers if a["id"] is not None) == [1, 2, 3]
    assert all("unknown operation" in a["error"]["message"] for a in answers if a["id"])
    assert next(a for a in answers if a["id"] is None)["error"]["kind"] == "bad-request"
    assert b"Traceback" not in proc.stderr
