"""fleet.core.hooks: real subprocesses get the event on stdin, never block the caller, are killed
after their timeout, stay bounded under a flood, and never leak their command into the log."""

from __future__ import annotations

import asyncio
import http.server
import json
import logging
import os
import shlex
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from fleet.core.config import Hook, HookSettings, load_config
from fleet.core.hooks import HookRunner, event_line
from fleet.core.models import EVENT_KINDS, DomainEvent
from fleet.core.remote.hostside import procs

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "hooks"
SECRET = "xoxb-SECRET"


def event(
    kind: str = "failed",
    session: str | None = "k3x9",
    name: str | None = "fix-login",
    host: str = "alpha",
    **detail: Any,
) -> DomainEvent:
    return DomainEvent(kind, host, session, name, 1718000000.5, dict(detail))


def sh(event_kind: str, script: str, line: int = 1) -> Hook:
    """A string hook, as the config makes it."""
    return Hook(event_kind, ("/bin/sh", "-c", script), shell=True, line=line)


def settings(*hooks: Hook, timeout: float = 10.0, cwd: Path | None = None) -> HookSettings:
    commands: dict[str, tuple[Hook, ...]] = {}
    for hook in hooks:
        commands[hook.event] = (*commands.get(hook.event, ()), hook)
    return HookSettings(timeout=timeout, commands=commands, cwd=cwd)


def q(path: Path) -> str:
    return shlex.quote(str(path))


def gone(pid: int) -> bool:
    """The process no longer runs (a zombie waiting for a non-reaping init counts as gone)."""
    if Path("/proc/self").exists():
        return not procs.alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def wait_for_file(path: Path, seconds: float = 10.0) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().endswith("\n"):
            return path.read_text()
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path.name} was not written")


@pytest.fixture
def hooklog(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture fleet.hooks records even if fleet's own logging turned propagation off."""
    logger = logging.getLogger("fleet.hooks")
    old = (logger.level, logger.propagate)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)
        logger.setLevel(old[0])
        logger.propagate = old[1]


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# --------------------------------------------------------------------------- the event


class TestDomainEvent:
    def test_to_json_is_what_hooks_get(self) -> None:
        e = event("needs-input", message="Allow?")
        assert e.to_json() == {
            "event": "needs-input",
            "host": "alpha",
            "session": "k3x9",
            "name": "fix-login",
            "ref": "alpha/fix-login",
            "at": 1718000000.5,
            "detail": {"message": "Allow?"},
        }

    def test_host_event_has_no_session(self) -> None:
        e = DomainEvent("lost", "alpha", None, None, 1.0)
        assert e.ref == "alpha" and e.detail == {}
        assert e.to_json()["session"] is None and e.to_json()["name"] is None

    def test_unknown_kind_is_refused(self) -> None:
        with pytest.raises(ValueError, match="unknown event kind 'exploded'"):
            DomainEvent("exploded", "alpha", None, None, 1.0)
        assert len(EVENT_KINDS) == 16 and "back" in EVENT_KINDS

    def test_event_line_is_one_line_of_json(self) -> None:
        e = event(message='line 1\nline 2 "quoted" é \u2028', bad="\udcff", obj=Path("/x"))
        data = event_line(e)
        assert data.endswith(b"\n") and data.count(b"\n") == 1
        decoded = json.loads(data)
        assert decoded["detail"]["message"] == e.detail["message"]
        assert decoded["detail"]["bad"] == "\udcff" and decoded["detail"]["obj"] == "/x"


# --------------------------------------------------------------------------- running hooks


async def test_hook_gets_exactly_the_event_json_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "stdin.json"
    runner = HookRunner(settings(sh("needs-input", f"cat > {q(out)}")))
    e = event("needs-input", message="Allow edit to 'app.py'?\n$(rm -rf ~)", n=3)
    runner.emit(e)
    await runner.drain(timeout=10)
    assert out.read_bytes() == event_line(e)
    assert json.loads(out.read_bytes()) == e.to_json()
    assert runner.running == 0 and runner.queued == 0


async def test_environment_has_the_event_ids_and_the_users_env(tmp_path: Path) -> None:
    out = tmp_path / "env.txt"
    script = (
        'printf "%s|%s|%s|%s|%s|%s\\n" "$FLEET_EVENT" "$FLEET_HOST" "$FLEET_SESSION" '
        f'"$FLEET_NAME" "$MY_VAR" "$PWD" > {q(out)}'
    )
    env = {"PATH": os.environ["PATH"], "MY_VAR": "mine", "FLEET_NAME": "stale"}
    runner = HookRunner(settings(sh("*", script), cwd=tmp_path), env=env)
    runner.emit(event("approved", name="weird name; $(x)"))
    await runner.drain(timeout=10)
    assert out.read_text() == f"approved|alpha|k3x9||mine|{tmp_path}\n"


async def test_argv_hooks_do_not_go_through_a_shell(tmp_path: Path) -> None:
    out = tmp_path / "argv.json"
    code = "import json, sys; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))"
    tricky = ["$(touch pwned)", "`touch pwned`", "; touch pwned", "*", "$HOME", "a b"]
    hook = Hook("failed", (sys.executable, "-c", code, str(out), *tricky))
    runner = HookRunner(settings(hook, cwd=tmp_path))
    runner.emit(event())
    await runner.drain(timeout=10)
    assert json.loads(out.read_text()) == tricky
    assert not (tmp_path / "pwned").exists()


async def test_star_gets_every_event_and_kinds_get_their_own(tmp_path: Path) -> None:
    star, own = tmp_path / "star.txt", tmp_path / "own.txt"
    runner = HookRunner(
        settings(
            sh("failed", f'echo "$FLEET_EVENT" >> {q(own)}'),
            sh("*", f'echo "$FLEET_EVENT" >> {q(star)}'),
        )
    )
    for kind in EVENT_KINDS:
        runner.emit(event(kind))
    await runner.drain(timeout=30)
    assert sorted(star.read_text().split()) == sorted(EVENT_KINDS)
    assert own.read_text() == "failed\n"


async def test_no_matching_hook_is_a_no_op() -> None:
    runner = HookRunner(settings(sh("failed", "exit 0")))
    runner.emit(event("idle"))
    assert runner.queued == 0 and runner.running == 0
    await runner.drain()


async def test_a_hanging_hook_is_killed_and_never_blocks_the_caller(
    tmp_path: Path, hooklog: pytest.LogCaptureFixture
) -> None:
    pids = tmp_path / "pids"
    # The hook and a child of it both hang; the whole process group must go.
    script = f"sleep 30 & echo $$ $! > {q(pids)}; wait"
    runner = HookRunner(settings(sh("failed", script, line=7), timeout=0.5), kill_grace=1.0)
    started = time.monotonic()
    runner.emit(event())
    emit_took = time.monotonic() - started
    assert emit_took < 1.0  # the hook would take 30 s
    leader, child = map(int, (await wait_for_file(pids)).split())
    await runner.drain(timeout=20)
    assert time.monotonic() - started < 10.0
    assert gone(leader) and gone(child)
    (message,) = warnings_of(hooklog)
    assert "hooks.failed (#0, line 7) for event failed host=alpha session=k3x9" in message
    assert "timed out after 0.5s" in message


async def test_a_hook_ignoring_sigterm_gets_sigkill(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"trap '' TERM; sleep 30 & echo $$ $! > {q(pids)}; wait; wait; wait"
    runner = HookRunner(settings(sh("failed", script), timeout=0.3), kill_grace=0.3)
    started = time.monotonic()
    runner.emit(event())
    leader, child = map(int, (await wait_for_file(pids)).split())
    await runner.drain(timeout=20)
    assert time.monotonic() - started < 10.0
    assert gone(leader) and gone(child)


async def test_failures_are_logged_without_the_command(
    tmp_path: Path, hooklog: pytest.LogCaptureFixture
) -> None:
    url = f"https://hooks.slack.com/services/T0/B0/{SECRET}"
    runner = HookRunner(
        settings(
            sh("failed", f"curl_is_not_called={url}; exit 3", line=4),
            # Its error message echoes the URL from the command: redacted in the log.
            sh("exited", f"echo 'curl: (22) error for {url}' >&2; exit 22", line=5),
            Hook("lost", (f"/nonexistent/{SECRET}/page-me", "--token", SECRET), line=6),
            Hook("back", ("/bin/sh", "-c", "kill -9 $$", SECRET), line=7),
        )
    )
    runner.emit(event("failed"))
    runner.emit(event("exited", session="s2"))
    runner.emit(DomainEvent("lost", "beta", None, None, 2.0))
    runner.emit(DomainEvent("back", "beta", None, None, 3.0))
    await runner.drain(timeout=20)
    text = hooklog.text + "\n".join(r.getMessage() for r in hooklog.records)
    assert SECRET not in text and "hooks.slack.com/services" not in text
    messages = warnings_of(hooklog)
    assert len(messages) == 4
    by_hook = {m.split(" ")[1]: m for m in messages}
    assert "exited with code 3" in by_hook["hooks.failed"]
    assert "line 4" in by_hook["hooks.failed"] and "session=k3x9" in by_hook["hooks.failed"]
    assert "exited with code 22" in by_hook["hooks.exited"]
    assert '"curl: (22) error for [redacted]"' in by_hook["hooks.exited"]
    assert "could not start: No such file or directory" in by_hook["hooks.lost"]
    assert "host=beta session=-" in by_hook["hooks.lost"]
    assert "killed by SIGKILL" in by_hook["hooks.back"]


async def test_output_is_drained_capped_and_only_a_first_line_logged(
    hooklog: pytest.LogCaptureFixture,
) -> None:
    script = (
        "head -c 2000000 /dev/zero | tr '\\0' x; "
        "printf '\\n\\n  \\033[31mfirst line\\033[0m\\nsecond line\\n' >&2; exit 1"
    )
    runner = HookRunner(settings(sh("failed", script), timeout=10))
    runner.emit(event())
    await runner.drain(timeout=20)
    (message,) = warnings_of(hooklog)
    assert "exited with code 1" in message  # not timed out on a full pipe
    assert message.endswith(': "first line"')
    assert "second" not in hooklog.text


async def test_a_hook_that_ignores_stdin_is_fine(hooklog: pytest.LogCaptureFixture) -> None:
    runner = HookRunner(settings(sh("failed", "exit 0"), Hook("*", ("true",))))
    runner.emit(event(blob="x" * 500_000))  # far more than a pipe holds
    await runner.drain(timeout=10)
    assert warnings_of(hooklog) == []
    assert sum("ok (ran" in r.getMessage() for r in hooklog.records) == 2


async def test_flood_is_bounded_and_drops_the_oldest(
    tmp_path: Path, hooklog: pytest.LogCaptureFixture
) -> None:
    live, seen = tmp_path / "live", tmp_path / "seen.txt"
    live.mkdir()
    # Each run marks itself live, counts the live runs, sleeps, and unmarks itself.
    script = (
        f'touch {q(live)}/$$; n=$(ls {q(live)} | wc -l); echo "$FLEET_SESSION $n" >> {q(seen)}; '
        f"sleep 0.2; rm -f {q(live)}/$$"
    )
    runner = HookRunner(settings(sh("working", script)), max_running=4, max_queued=20)
    peak = 0

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, runner.running)
            await asyncio.sleep(0.005)

    sampler = asyncio.create_task(sample())
    started = time.monotonic()
    for i in range(1000):
        runner.emit(event("working", session=f"s{i}"))
    emit_took = time.monotonic() - started
    assert runner.queued == 20 and runner.dropped == 980
    await runner.drain(timeout=60)
    sampler.cancel()
    rows = [line.split() for line in seen.read_text().splitlines()]
    assert {session for session, _ in rows} == {f"s{i}" for i in range(980, 1000)}
    assert max(int(n) for _, n in rows) <= 4
    assert 1 <= peak <= 4
    assert list(live.iterdir()) == []
    warnings = warnings_of(hooklog)
    assert len(warnings) <= 3  # not one line per dropped run
    assert any("dropped the oldest" in w for w in warnings)
    assert any("980 in total" in w for w in warnings)
    assert emit_took < 5.0  # 1,000 emits queue without waiting on any process


async def test_drain_timeout_then_close_stops_running_hooks(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    runner = HookRunner(
        settings(sh("failed", f"echo $$ > {q(pids)}; exec sleep 30"), timeout=60),
        kill_grace=0.5,
    )
    runner.emit(event())
    leader = int((await wait_for_file(pids)).split()[0])
    started = time.monotonic()
    await runner.drain(timeout=0.2)
    assert runner.running >= 1
    await runner.close()
    assert time.monotonic() - started < 10.0
    assert runner.running == 0 and gone(leader)
    runner.emit(event())  # closed: ignored
    assert runner.queued == 0 and runner.running == 0


async def test_close_drops_what_is_queued(tmp_path: Path) -> None:
    out = tmp_path / "ran.txt"
    runner = HookRunner(
        settings(sh("failed", f"echo x >> {q(out)}; sleep 30")),
        max_running=1,
        kill_grace=0.2,
    )
    for _ in range(5):
        runner.emit(event())
    await wait_for_file(out)
    await runner.close()
    assert out.read_text() == "x\n" and runner.queued == 0


def test_emit_without_a_loop_logs_and_returns(hooklog: pytest.LogCaptureFixture) -> None:
    runner = HookRunner(settings(sh("failed", "exit 0")))
    runner.emit(event())
    assert "no event loop" in hooklog.text and runner.queued == 0


async def test_emit_from_another_thread_once_the_loop_is_known(tmp_path: Path) -> None:
    out = tmp_path / "events.txt"
    runner = HookRunner(settings(sh("*", f'echo "$FLEET_EVENT" >> {q(out)}')))
    runner.emit(event("started"))
    await asyncio.to_thread(runner.emit, event("stopped"))
    await asyncio.sleep(0.05)  # let the thread's call land on the loop
    await runner.drain(timeout=10)
    assert sorted(out.read_text().split()) == ["started", "stopped"]


async def test_from_config(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    (tmp_path / "fleet.toml").write_text(
        f'[hooks]\ntimeout = 5\n"*" = "cat > {out.name}"\n', encoding="utf-8"
    )
    cfg = load_config(tmp_path / "fleet.toml", env={"HOME": str(tmp_path)})
    runner = HookRunner(cfg.hooks)
    runner.emit(event("checkpoint", n=2))
    await runner.drain(timeout=10)
    assert json.loads(out.read_text())["detail"] == {"n": 2}  # ran in the config's directory


# --------------------------------------------------------------------------- the examples


class _Recorder(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append((self.path, dict(self.headers), body))
        status = 500 if self.path.endswith("/fail") else 200
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[tuple[str, dict[str, str], bytes]]]]:
    received: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []
    handler = type("Handler", (_Recorder,), {"received": received})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", received
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_example_scripts_are_executable() -> None:
    for name in ("slack.sh", "desktop-notify.sh", "webhook.py"):
        assert os.access(EXAMPLES / name, os.X_OK), name
    assert (EXAMPLES / "README.md").is_file()


async def test_example_webhook_posts_the_event(
    server: tuple[str, list[tuple[str, dict[str, str], bytes]]],
    hooklog: pytest.LogCaptureFixture,
) -> None:
    url, received = server
    env = {
        **os.environ,
        "FLEET_WEBHOOK_URL": f"{url}/hook",
        "FLEET_WEBHOOK_AUTH": f"Bearer {SECRET}",
    }
    script = str(EXAMPLES / "webhook.py")
    runner = HookRunner(
        settings(
            Hook("*", (sys.executable, script)), Hook("failed", (sys.executable, script, "--text"))
        ),
        env=env,
    )
    e = event("failed", reason="exit 3 <!channel>")
    runner.emit(e)
    await runner.drain(timeout=20)
    assert warnings_of(hooklog) == []
    bodies = sorted((json.loads(body) for _, _, body in received), key=lambda b: "text" in b)
    assert bodies == [e.to_json(), {"text": "alpha/fix-login: failed (exit 3 <!channel>)"}]
    assert all(headers["Authorization"] == f"Bearer {SECRET}" for _, headers, _ in received)

    env["FLEET_WEBHOOK_URL"] = f"{url}/{SECRET}/fail"
    runner = HookRunner(settings(Hook("failed", (sys.executable, script))), env=env)
    runner.emit(e)
    await runner.drain(timeout=20)
    (message,) = warnings_of(hooklog)
    assert "exited with code 1 (ran" in message and "HTTP 500" in message
    assert SECRET not in hooklog.text


@pytest.mark.skipif(
    not shutil.which("curl") and os.environ.get("CI") != "true",
    reason="needs curl (CI installs it, and there a missing curl fails the test)",
)
async def test_example_slack_posts_escaped_text(
    server: tuple[str, list[tuple[str, dict[str, str], bytes]]],
) -> None:
    url, received = server
    env = {**os.environ, "SLACK_WEBHOOK_URL": f"{url}/services/T0/B0/{SECRET}"}
    runner = HookRunner(settings(Hook("needs-input", (str(EXAMPLES / "slack.sh"),))), env=env)
    runner.emit(event("needs-input", message="<!channel> $(touch pwned) & more"))
    await runner.drain(timeout=20)
    ((path, headers, body),) = received
    assert path == f"/services/T0/B0/{SECRET}"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "text": ":raising_hand: *alpha/fix-login*: needs-input\n"
        ">message: &lt;!channel&gt; $(touch pwned) &amp; more"
    }


async def test_example_desktop_notify_passes_text_as_arguments(tmp_path: Path) -> None:
    bin_dir, out = tmp_path / "bin", tmp_path / "args.json"
    bin_dir.mkdir()
    fake = bin_dir / "notify-send"
    fake.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"open({str(out)!r}, 'w').write(json.dumps(sys.argv[1:]))\n",
        encoding="utf-8",
    )
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    runner = HookRunner(
        settings(Hook("needs-input", (str(EXAMPLES / "desktop-notify.sh"),)), cwd=tmp_path),
        env=env,
    )
    runner.emit(event("needs-input", message="$(touch pwned) <b>"))
    await runner.drain(timeout=20)
    assert json.loads(out.read_text()) == [
        "--app-name=fleet",
        "--urgency=critical",
        "--",
        "fleet: alpha/fix-login",
        "needs-input: $(touch pwned) &lt;b&gt;",
    ]
    assert not (tmp_path / "pwned").exists()
