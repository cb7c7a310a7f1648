"""A compromised host: its helper replaced by a hostile program that answers anything.

On a real loopback host, ~/.fleet/helper-<hash>.pyz (the exact file fleet runs there, found
installed by the probe, so nothing is uploaded over it) is a program that reads the request
like the real helper and answers, per operation, with malformed, huge, deeply nested or
non-UTF-8 JSON, session ids and names like ``../../x``, numbers SQLite cannot hold, NaN,
escape sequences in error messages, and a watch stream mixing all of that with valid events.

fleet must reject each with a logged error, keep going (the supervisor's mirror never dies,
valid events around bad ones are applied), keep its store consistent, print nothing a terminal
would act on, and write nothing outside its own directories (checked with a canary file and a
listing of everything under the client's directory before and after).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet.core import events as ev
from fleet.core.config import load_config
from fleet.core.errors import FleetError, RemoteError
from fleet.core.remote import client as client_module
from fleet.core.remote import untrusted
from fleet.core.remote.bundle import bundle
from fleet.core.store import Output, Store
from fleet.core.supervisor import Supervisor
from tests.integration.fleetrun import FleetCLI, Result
from tests.integration.hosts import LoopbackFleet, LoopbackHost

FORBIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
GOOD = "abcdefgh"
GOOD_ROW = {
    "id": GOOD,
    "name": "good",
    "agent": "shell",
    "status": "working",
    "branch": "fleet/good",
    "worktree": "/w",
    "repo": "/r",
    "base": "0" * 40,
    "task": "t",
    "created": 1.0,
    "status_since": 1.0,
    "diffstat": {"added": 1, "removed": 0, "files": 1},
}
OSC52 = "\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07"

# The hostile helper. Its answer to an op is chosen by ~/hostile.json {op: mode}.
HOSTILE_HELPER = textwrap.dedent(
    """\
    import json, os, sys, time
    GOOD_ROW = %(good_row)s
    GOOD = GOOD_ROW["id"]
    OSC52 = %(osc52)r
    out = sys.stdout.buffer
    BROKEN = ("garbage", "nonutf8", "deep", "huge", "silent")

    def handle(line):
        request = json.loads(line)
        op = request["op"]
        # fleet's plain calls arrive on `helper serve`, tagged with an id the answer carries first.
        rid = json.dumps(request.get("id")).encode()
        try:
            with open(os.path.expanduser("~/hostile.json")) as f:
                modes = json.load(f)
        except OSError:
            modes = {}
        mode = modes.get(op, "valid")

        def answer(obj):
            out.write(json.dumps(dict({"id": request.get("id")}, **obj)).encode() + b"\\n")

        def bad_rows():
            rows = [dict(GOOD_ROW)]
            for key, value in [
                ("id", "../../x"), ("id", "ABCDEFGH"), ("id", 12345678), ("id", None),
                ("name", "../../x"), ("name", "a/b"), ("name", "\\x1b]0;t\\x07"),
                ("status", "pwned"), ("created", float("nan")), ("status_since", 1e400),
                ("exit_code", 10 ** 30), ("diffstat", {"added": "x"}), ("diffstat", [1]),
                ("branch", "../../x"), ("branch", "main:refs/heads/main"), ("task", ["x"]),
            ]:
                row = dict(GOOD_ROW, id="mnopqrst", name="bad")
                row[key] = value
                rows.append(row)
            rows.append(42)
            rows.append(dict(GOOD_ROW, id="ijklmnop", name="shown", agent=OSC52 + "ag\\u202ent",
                             task="task \\udc80 \\u202e" + "x" * 100000))
            return rows

        CHECKPOINT = {"n": 1, "commit": "abcd1234", "time": 1.0, "reason": OSC52 + "why \u202e",
                      "created": True}
        ESCAPED = {
            "checkpoint": CHECKPOINT,
            "checkpoints": [CHECKPOINT],
            "rewind": {"checkpoint": CHECKPOINT, "before": CHECKPOINT, "restored": 1,
                       "removed": 0, "exact": True},
            "undo": {"decision": 1, "action": "approve", "paths": [OSC52 + "p\u202e"],
                     "checkpoint": 2, "uncommitted": None},
            "push": {"pushed": "fleet/good", "remote": OSC52 + "origin",
                     "pr": OSC52 + "https://example.com/pr/1 \u202e", "pr_note": ""},
        }
        BAD_TYPES = {
            "checkpoint": {"n": "one", "commit": 5},
            "checkpoints": [{"n": None}],
            "rewind": {"checkpoint": [1], "before": None},
            "undo": {"decision": [1], "action": OSC52},
            "push": {"pushed": ["x"], "remote": 7},
        }
        if op == "hello" and mode == "escapes":
            answer({"ok": True, "result": {"protocol": 2, "helper": OSC52 + "h",
                                           "python": OSC52 + "3.11 \u202e", "tmux": OSC52 + "t",
                                           "git": "g\x9b31m"}})
        elif op == "hello":
            answer({"ok": True, "result": {"protocol": 1, "helper": "hostile", "python": "3",
                                           "tmux": "t", "git": "g"}})
        elif mode == "escapes" and op in ESCAPED:
            answer({"ok": True, "result": ESCAPED[op]})
        elif mode == "bad-types" and op in BAD_TYPES:
            answer({"ok": True, "result": BAD_TYPES[op]})
        elif op == "watch" and mode == "flood":
            ids = ("".join("abcdefghijklmnopqrstuvwxyz234567"[(i >> (5 * k)) & 31] for k in range(8))
                   for i in range(%(flood)d))
            rows = [dict(GOOD_ROW, id=sid, name="s%%d" %% n) for n, sid in enumerate(ids)]
            out.write(json.dumps({"type": "snapshot", "seq": 0, "sessions": rows, "gap": False}).encode() + b"\\n")
            out.write(json.dumps({"type": "hello", "seq": 0, "version": "v"}).encode() + b"\\n")
            out.write(json.dumps({"type": "status", "session": GOOD, "status": "needs-input",
                                  "seq": 1, "t": 1.0}).encode() + b"\\n")
            out.flush()
            while sys.stdin.buffer.read(4096):
                pass
        elif op == "watch":
            lines = [
                json.dumps({"type": "snapshot", "seq": 0, "sessions": bad_rows(), "gap": False}),
                json.dumps({"type": "hello", "seq": 0, "version": OSC52}),
                "not json at all {",
                b"\\xff\\xfe{\\"type\\": \\"status\\"}",
                "[1, 2, 3]",
                "[" * 100000 + "]" * 100000,
                json.dumps({"type": "status", "session": "../../x", "status": "idle", "seq": 1}),
                json.dumps({"type": "status", "session": GOOD, "status": "pwned", "seq": 1}),
                json.dumps({"type": "status", "session": GOOD, "status": "idle", "seq": 2 ** 70}),
                json.dumps({"type": "status", "session": GOOD, "status": "idle", "t": float("nan")}),
                json.dumps({"type": "output", "session": GOOD, "offset": -5, "data": "aGk="}),
                json.dumps({"type": "output", "session": GOOD, "offset": 0, "data": "not base64!"}),
                json.dumps({"type": "output", "session": "../../x", "offset": 0, "data": "aGk="}),
                json.dumps({"type": "output-gap", "session": GOOD, "from": 0, "to": 2 ** 64}),
                json.dumps({"type": "screen", "session": GOOD, "hash": "../x", "text": "s"}),
                json.dumps({"type": "screen", "session": GOOD, "hash": "ab", "text": 5}),
                json.dumps({"type": "screen", "session": GOOD, "hash": "ab", "text": "y" * 2000000}),
                json.dumps({"type": "diffstat", "session": GOOD, "diffstat": {"added": 1e400}}),
                json.dumps({"type": "diffstat", "session": GOOD, "diffstat": {"added": -1}}),
                json.dumps({"type": "created", "session": GOOD, "seq": 1,
                            "info": dict(GOOD_ROW, id="../../y")}),
                json.dumps({"type": "removed", "session": "../..", "seq": 1}),
                json.dumps({"type": "screen", "session": GOOD, "hash": "cd", "text": "z" * 20000000}),
                json.dumps({"type": 7}),
                # A journal error event is an event, not the end of the stream.
                json.dumps({"type": "error", "seq": 1, "session": GOOD, "message": OSC52 + "boom"}),
                json.dumps({"type": "output", "session": GOOD, "offset": 0, "data": "aGVsbG8K"}),
                json.dumps({"type": "screen", "session": GOOD, "hash": "0123abcd",
                            "text": OSC52 + "screen text \\u202e"}),
                json.dumps({"type": "status", "session": GOOD, "status": "needs-input",
                            "prev": "working", "seq": 2, "t": 2.0}),
            ]
            for line in lines:
                out.write((line if isinstance(line, bytes) else line.encode()) + b"\\n")
                out.flush()
            while sys.stdin.buffer.read(4096):
                pass
        elif mode == "valid":
            answer({"ok": True, "result": [GOOD_ROW] if op == "list" else {"text": "hi"}})
        elif mode == "rows":
            answer({"ok": True, "result": bad_rows()})
        elif mode == "garbage":
            out.write(b"<<< not json >>>\\n")
            sys.stderr.write(OSC52 + "stderr said \\u202e something\\n")
        elif mode == "nonutf8":
            out.write(b'{"id": ' + rid + b', "ok": false, "error": {"kind": "x", '
                      b'"message": "bad \\xff\\xfe\\xc3( utf8"}}\\n')
        elif mode == "deep":
            out.write(b"[" * 200000 + b"]" * 200000 + b"\\n")
        elif mode == "huge":
            chunk = b"x" * (1 << 20)
            out.write(b'{"id": ' + rid + b', "ok": true, "result": "')
            for _ in range(%(huge_mb)d):
                out.write(chunk)
            out.write(b'"}\\n')
        elif mode == "escape-error":
            answer({"ok": False, "error": {"kind": OSC52 + "k",
                                           "message": (OSC52 + "bad \\u202e\\x9b31m ") * 20000}})
        elif mode == "error-not-object":
            answer({"ok": False, "error": "just a string"})
        elif mode == "wrong-shape":
            answer({"ok": True, "result": {"not": "a list"} if op == "list" else ["not", "a dict"]})
        elif mode == "no-text":
            answer({"ok": True, "result": {"text": 5, "base": None}})
        elif mode == "silent":
            sys.exit(3)
        out.flush()
        return mode

    if sys.argv[1:] == ["serve"]:  # many calls on one channel, as fleet makes them
        for line in sys.stdin.buffer:
            if line.strip() and handle(line) in BROKEN:
                break  # no answer fleet can match was given: end, as a broken helper does
    else:
        handle(sys.stdin.buffer.readline())
    """
)
HUGE_MB = 130  # over client.MAX_ANSWER (128 MiB)
FLOOD = 50_000  # sessions in one snapshot: far over a host's max_sessions


def install_hostile(lf: LoopbackFleet, name: str = "alpha") -> LoopbackHost:
    h = lf[name]
    base = h.home / ".fleet"
    base.mkdir(mode=0o700, exist_ok=True)
    # Under the name this process's fleet runs, and the name a `fleet` started now computes
    # (the same, unless the helper's sources were edited since this process started).
    for made in (bundle(), bundle.__wrapped__()):
        _write_hostile(h, h.home / made.remote_path)
    return h


def _write_hostile(h: LoopbackHost, path: Path) -> None:
    base = path.parent
    path.write_text(
        HOSTILE_HELPER
        % {"good_row": repr(GOOD_ROW), "osc52": OSC52, "huge_mb": HUGE_MB, "flood": FLOOD}
    )
    for p in (base, path):
        os.chown(p, h.uid, h.gid)
        p.chmod(0o700)


def set_modes(lf: LoopbackFleet, h: LoopbackHost, **modes: str) -> None:
    install_hostile(lf, h.name)
    f = h.home / "hostile.json"
    f.write_text(json.dumps(modes))
    os.chown(f, h.uid, h.gid)


def hostile_run(fleet: FleetCLI, h: LoopbackHost, *args: str) -> Result:
    """`fleet ARGS` against the hostile helper. Should the helper's sources change meanwhile
    (another developer editing them), that fleet uploads the real helper under its new name:
    then it is removed, the hostile one put in its place, and the command run again."""
    for _ in range(3):
        result = fleet(*args)
        real = [
            p
            for p in (h.home / ".fleet").glob("helper-*.pyz")
            if not p.read_bytes().startswith(b"import json")
        ]
        if not real:
            return result
        for p in real:
            p.unlink()
        install_hostile(fleet.lf, h.name)
    raise AssertionError("the helper's sources keep changing: cannot pin the hostile one")


def listing(root: Path, skip: Path) -> dict[str, int]:
    """Every path under root (but `skip`) with its size: what exists, as bytes on disk."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        if d == skip or skip in d.parents:
            dirnames[:] = []
            continue
        for n in dirnames + filenames:
            p = d / n
            out[str(p)] = p.lstat().st_size if not p.is_dir() else -1
    return out


@pytest.fixture
def hostile(fresh_hosts: LoopbackFleet) -> Iterator[tuple[FleetCLI, LoopbackHost]]:
    lf = fresh_hosts
    h = install_hostile(lf)
    fleet = FleetCLI(lf)
    canary = lf.dir / "canary.txt"
    canary.write_text("canary\n")
    before = listing(lf.dir, lf.state_dir)
    x_outside = [lf.state_dir.parent / "x", lf.state_dir.parent / "y", Path("/tmp/x")]
    existed = {p: p.exists() for p in x_outside}
    yield fleet, h
    assert canary.read_text() == "canary\n"
    assert listing(lf.dir, lf.state_dir) == before, "something was written outside FLEET_HOME"
    assert {p: p.exists() for p in x_outside} == existed
    for p in lf.state_dir.rglob("*"):
        # Everything fleet wrote is its own: the store, its log, reviews of real session ids.
        rel = p.relative_to(lf.state_dir).parts
        assert rel[0].startswith("fleet.") or rel[0] == "reviews", rel
        assert ".." not in rel


def no_leak(r: Result, limit: int = 8000) -> str:
    err = r.err + r.out
    assert "Traceback" not in err, err[-3000:]
    assert not FORBIDDEN.search(err), ascii(err[:400])
    assert len(err) < limit, len(err)
    return err


def test_cli_rejects_what_a_compromised_helper_answers(
    hostile: tuple[FleetCLI, LoopbackHost],
) -> None:
    fleet, h = hostile
    assert hostile_run(fleet, h, "hosts").code == 0  # the hostile helper is the one installed

    # A listing with one good row among malformed ones: the good ones shown, the rest logged.
    set_modes(fleet.lf, h, list="rows")
    r = hostile_run(fleet, h, "ls", "--json")
    no_leak(r, limit=400_000)
    assert r.code == 0, r.err
    rows = {row["ref"]: row for row in r.json()}
    assert set(rows) == {"alpha/good", "alpha/shown"}, set(rows)
    shown = rows["alpha/shown"]
    assert not FORBIDDEN.search(json.dumps(shown, ensure_ascii=False))
    assert len(shown["task"]) <= untrusted.MAX_TASK
    log_text = (fleet.lf.state_dir / "fleet.log").read_text()
    assert log_text.count("dropped a malformed session") >= 17, log_text[-2000:]
    assert "../../x" in log_text  # what was rejected is named (quoted, inert)

    for mode, code, words in [
        ("garbage", 1, "gave no answer to list"),
        ("nonutf8", 1, "bad"),
        ("deep", 1, "gave no answer to list"),
        ("escape-error", 1, "bad"),
        ("error-not-object", 1, "failed"),
        ("wrong-shape", 1, "not a list"),
        ("silent", 1, "exit status 3"),
    ]:
        set_modes(fleet.lf, h, list=mode)
        r = hostile_run(fleet, h, "ls")
        err = no_leak(r)
        assert r.code == code, (mode, r)
        assert words in err, (mode, err)
        assert "fleet: alpha:" in err, (mode, err)

    set_modes(fleet.lf, h, list="valid", screen="escape-error")
    r = hostile_run(fleet, h, "screen", "alpha/good")
    assert r.code == 1 and "bad" in no_leak(r)
    set_modes(fleet.lf, h, list="valid", screen="wrong-shape")
    r = hostile_run(fleet, h, "screen", "alpha/good")
    assert r.code == 1 and "not an object" in no_leak(r)
    set_modes(fleet.lf, h, list="valid", diff="no-text")
    r = hostile_run(fleet, h, "diff", "alpha/good")
    assert r.code == 1 and "a diff without its text" in no_leak(r)
    set_modes(fleet.lf, h, list="valid", screen="huge")
    r = hostile_run(fleet, h, "screen", "alpha/good")
    assert r.code == 1 and "larger than 128 MB" in no_leak(r), r


ACTIONS = [
    ("checkpoint", "alpha/good"),
    ("checkpoints", "alpha/good"),
    ("rewind", "alpha/good", "1"),
    ("undo", "alpha/good"),
    ("push", "alpha/good"),
]


def test_every_answer_is_checked_and_printed_inert(hostile: tuple[FleetCLI, LoopbackHost]) -> None:
    """Escapes in the fields of a helper's answers (versions, reasons, paths, a remote, a PR
    address) reach no terminal, as text or as JSON; a field of the wrong type fails the command
    cleanly, never printed as it came."""
    fleet, h = hostile
    set_modes(fleet.lf, h, list="valid", hello="escapes", **{a[0]: "escapes" for a in ACTIONS})
    assert "3.11" in no_leak(hostile_run(fleet, h, "hosts"))
    for args in ACTIONS:
        for as_json in ((), ("--json",)):
            r = hostile_run(fleet, h, *args, *as_json)
            assert r.code == 0, (args, r)
            no_leak(r)
    set_modes(fleet.lf, h, list="valid", **{a[0]: "bad-types" for a in ACTIONS})
    for args in ACTIONS:
        r = hostile_run(fleet, h, *args)
        err = no_leak(r)
        assert r.code == 1 and "malformed" in err, (args, r)


async def test_a_huge_snapshot_is_parsed_off_the_event_loop_and_bounded(
    hostile: tuple[FleetCLI, LoopbackHost], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One host streaming a 50,000-session snapshot: it is read on a thread (the loop every
    host and the person's keys share keeps turning), at most max_sessions of it are kept, and
    the events after it still arrive."""
    fleet, h = hostile
    set_modes(fleet.lf, h, list="valid", watch="flood")
    parsed_on: list[str] = []
    parse = untrusted.parse_event

    def recording(host: str, raw: Any, max_sessions: int | None = None) -> Any:
        if raw.get("type") == "snapshot":
            parsed_on.append(threading.current_thread().name)
        return parse(host, raw, max_sessions)

    monkeypatch.setattr(untrusted, "parse_event", recording)
    config = load_config(fleet.config)
    lag = 0.0

    async def ticker() -> None:
        nonlocal lag
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            lag = max(lag, loop.time() - before - 0.01)

    store = await Store.open(fleet.lf.state_dir / "fleet.db")
    async with store, Supervisor(config, store=store) as sup:
        ticking = asyncio.create_task(ticker())

        async def follow() -> None:
            async for event in sup.mirror("alpha"):
                if isinstance(event, ev.StatusChanged):
                    return

        await asyncio.wait_for(follow(), 120)
        ticking.cancel()
        await store.flush()
        kept = await store.sessions("alpha")
    assert parsed_on and all(name != "MainThread" for name in parsed_on), parsed_on
    assert len(kept) == config.hosts["alpha"].max_sessions == 500
    print(f"\n50,000-session snapshot: longest event-loop stall {lag * 1000:.0f} ms")


async def test_supervisor_survives_a_hostile_watch_stream(
    hostile: tuple[FleetCLI, LoopbackHost], caplog: pytest.LogCaptureFixture
) -> None:
    fleet, _ = hostile
    caplog.set_level(logging.ERROR, logger="fleet.remote")
    config = load_config(fleet.config)
    seen: list[ev.Event] = []
    store = await Store.open(fleet.lf.state_dir / "fleet.db")
    async with store, Supervisor(config, store=store) as sup:

        async def follow() -> None:
            async for event in sup.mirror("alpha"):
                seen.append(event)
                if isinstance(event, ev.StatusChanged) and event.status == "needs-input":
                    return

        try:
            await asyncio.wait_for(follow(), 120)
        except TimeoutError:
            raise AssertionError(
                f"no sentinel; seen {[ev.as_json(e) for e in seen][:20]}; "
                f"log {[r.getMessage()[:120] for r in caplog.records][-10:]}"
            ) from None
        await store.flush()
        cached = {c.session.id: c for c in await store.sessions("alpha")}
        assert set(cached) == {GOOD, "ijklmnop"}, set(cached)
        good = cached[GOOD].session
        assert str(good.status) == "needs-input"
        assert await store.watch_cursor("alpha") == 2
        assert await store.output("alpha", GOOD) == Output(0, b"hello\n")
        screen = (await store.screens()).get(("alpha", GOOD))
        assert screen is not None and screen.startswith(OSC52)  # stored raw, shown inert
        assert await store.check() == ["ok"]
        shown = cached["ijklmnop"].session
        assert not FORBIDDEN.search(shown.agent + shown.task)
    kinds = [e.kind for e in seen]
    assert kinds[:2] == ["snapshot", "hello"], kinds
    assert kinds.count("error") == 1 and kinds.count("output") == 1, kinds
    assert "link" not in kinds  # the stream never broke
    # Every event that reached the store's caller is about the one good session.
    for e in seen:
        assert getattr(e, "session", None) in (None, GOOD), e
    rejected = [r for r in caplog.records if "dropped a malformed" in r.getMessage()]
    assert len(rejected) >= 30, len(rejected)
    over = [r for r in caplog.records if "over 16777216 bytes" in r.getMessage()]
    assert len(over) == 1, [r.getMessage()[:100] for r in caplog.records]
    for r in caplog.records:
        assert not FORBIDDEN.search(r.getMessage()), ascii(r.getMessage()[:200])
        assert len(r.getMessage()) < 4000


async def test_smaller_answer_limit_is_enforced_without_keeping_the_answer(
    hostile: tuple[FleetCLI, LoopbackHost], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limit is what stops the answer, not memory: with a 1 MiB limit the 130 MB answer
    is refused as soon as it passes 1 MiB, and the host stays usable afterwards."""
    fleet, h = hostile
    monkeypatch.setattr(client_module, "MAX_ANSWER", 1 << 20)
    set_modes(fleet.lf, h, list="valid", screen="huge")
    config = load_config(fleet.config)
    async with Supervisor(config) as sup:
        with pytest.raises(RemoteError, match="larger than 1 MB") as caught:
            await sup.screen("alpha/good")
        assert caught.value.kind == "protocol"
        set_modes(fleet.lf, h, list="valid", screen="valid")
        assert (await sup.screen("alpha/good")).text == "hi"
        with pytest.raises(FleetError):
            await sup.find("alpha/../../x")


def test_hostile_helper_is_valid_python(tmp_path: Path) -> None:
    """Guard for this module: the hostile program runs (here, locally, as a plain script)."""
    script = tmp_path / "h.py"
    values = {"good_row": repr(GOOD_ROW), "osc52": OSC52, "huge_mb": 1, "flood": 1}
    script.write_text(HOSTILE_HELPER % values)
    proc = subprocess.run(
        [sys.executable, str(script)],
        input=b'{"op": "list", "args": {}}\n',
        capture_output=True,
        env={**os.environ, "HOME": str(tmp_path)},
        timeout=30,
    )
    assert proc.returncode == 0 and json.loads(proc.stdout)["result"][0]["id"] == GOOD
    proc = subprocess.run(
        [sys.executable, str(script)],
        input=b'{"op": "watch", "args": {}}\n',
        capture_output=True,
        env={**os.environ, "HOME": str(tmp_path)},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count(b"\n") == 27 and b"needs-input" in proc.stdout.splitlines()[-1]
