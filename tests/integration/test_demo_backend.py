"""`fleet demo` without the TUI: the in-process SSH server, the sandbox and the scripted agents,
driven through the real Supervisor and the real `fleet` CLI.

The demo's hosts are served by this test process, so everything here awaits: a blocking call
(subprocess.run of `fleet ls`) would starve the server it talks to.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from fleet.core.errors import HostKeyError
from fleet.core.models import Status
from fleet.core.remote.hostside import procs
from fleet.core.ssh import HostLink
from fleet.core.supervisor import Supervisor
from fleet.demo.run import reap_stale, start_demo
from fleet.demo.sandbox import HOSTS, SESSIONS

# tmux and git are checked by tests/integration/conftest.py (a failure, not a skip, in CI).

PACE = 0.15  # the demo agents' pauses, scaled down
T = TypeVar("T")

BUILDER = "alpha/discount-codes"
ASKER = "alpha/toml-config"
EXPECTED = {
    BUILDER: (Status.IDLE, None),
    ASKER: (Status.NEEDS_INPUT, None),
    "beta/discounts-v2": (Status.IDLE, None),
    "beta/tax-rounding": (Status.FAILED, 2),
    "gamma/docs-refresh": (Status.EXITED, 0),
    "gamma/config-cleanup": (Status.NEEDS_INPUT, None),
}


def leftovers(root: Path) -> list[str]:
    """Processes (not this one) whose command line or environment mentions `root`."""
    needle = str(root).encode()
    found = []
    for pid in procs.pids():
        if pid == os.getpid():
            continue
        cmdline, environ = procs.read(pid, "cmdline"), procs.read(pid, "environ")
        if cmdline is None or environ is None:
            continue
        if needle in cmdline or needle in environ:
            shown = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{pid}: {shown}")
    return found


async def until(check: Callable[[], Awaitable[T]], what: str, timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")


async def fleet(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fleet",
        *args,
        env={**os.environ, **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_demo_runs_reviews_steers_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home = Path(os.environ["HOME"])
    own_tmux = Path(f"/tmp/tmux-{os.getuid()}/fleet")
    had_own_tmux = own_tmux.exists()
    demo = await start_demo(keep=False, pace=PACE)
    root = demo.root
    sup: Supervisor | None = None
    try:
        assert demo.started_in < 10, f"the demo took {demo.started_in:.1f} s to start"
        for name, value in demo.env.items():
            monkeypatch.setenv(name, value)
        assert sorted(demo.config.hosts) == sorted(HOSTS)
        ssh_config = demo.sandbox.ssh_config.read_text()
        assert "~" not in ssh_config and "IdentityAgent none" in ssh_config
        sup = Supervisor(demo.config)

        # Every session on all three hosts, progressing to where its scenario leads.
        listing = await sup.list_sessions()
        assert not listing.errors
        assert {s.ref for s in listing.sessions} == {f"{s.host}/{s.name}" for s in SESSIONS}
        assert {s.host for s in listing.sessions} == set(HOSTS)

        async def settled() -> dict[str, tuple[Status, int | None]]:
            got = {s.ref: (s.status, s.exit_code) for s in (await sup.list_sessions()).sessions}
            return got if got == EXPECTED else {}

        await until(settled, "every demo agent to reach its scenario's end")

        # The same through the `fleet` CLI, as a person would see it.
        code, out, err = await fleet(demo.env, "ls", "--json")
        assert code == 0, err
        rows = {row["ref"]: row for row in json.loads(out)}
        assert rows["beta/tax-rounding"]["status"] == "failed"
        assert rows["beta/tax-rounding"]["exit_code"] == 2
        assert rows["gamma/docs-refresh"]["status"] == "exited"
        assert rows["gamma/docs-refresh"]["exit_code"] == 0
        assert rows[ASKER]["status"] == "needs-input"

        # The builder's diff has several files and several hunks; approve one by fingerprint.
        _, seen = await sup.diff(BUILDER)
        paths = {h.path for h in seen.hunks}
        assert {"cart.py", "pricing.py", "discounts.py", "README.md", "tests/test_cart.py"} <= paths
        assert sum(h.path == "cart.py" for h in seen.hunks) >= 3, seen.stat()
        assert len(seen.hunks) >= 8, seen.stat()
        approved = await sup.approve(BUILDER, hunks=[1], expect=seen.fingerprint)
        assert approved.hunks == (1,)
        _, after = await sup.diff(BUILDER)
        assert after.hunks[0].approved
        assert not any(h.approved for h in after.hunks[1:])

        # Rejecting a hunk reverts it and tells the agent, which answers on its screen.
        readme = next(h for h in after.hunks if h.path == "README.md")
        await sup.reject(BUILDER, hunks=[readme.number], note="not now", expect=after.fingerprint)
        session = await sup.find(BUILDER)
        assert (
            "Discount codes"
            not in (demo.sandbox.root / "hosts" / "alpha" / ".fleet" / "worktrees" / session.name)
            .joinpath("README.md")
            .read_text()
        )

        async def screen_has(ref: str, text: str) -> str:
            screen = (await sup.screen(ref)).text
            return screen if text in screen else ""

        await until(lambda: screen_has(BUILDER, "ok, I'll leave that change out"), "the answer")

        # A steering message gets an answer on the agent's screen.
        await sup.send(BUILDER, "rename apply_discount to discounted")
        await until(
            lambda: screen_has(BUILDER, "ok, I'll rename apply_discount to discounted."),
            "the builder to answer the steering message",
        )

        # The asker carries on once answered.
        await sup.send(ASKER, "y")
        await until(lambda: screen_has(ASKER, "ok, deleting it."), "the asker to take the answer")

        async def asker_done() -> bool:
            return (await sup.find(ASKER)).status == Status.IDLE

        await until(asker_done, "the asker to finish after the answer")
        _, asker_diff = await sup.diff(ASKER)
        assert "config.yaml is no longer read" in asker_diff.text

        # The host key is pinned: the same host with an empty known_hosts is refused.
        empty = tmp_path / "known_hosts"
        empty.write_text("")
        other = tmp_path / "ssh_config"
        other.write_text(ssh_config.replace(str(demo.sandbox.known_hosts), str(empty)))
        link = HostLink(
            "alpha", "alpha", replace(demo.config.ssh, config_file=other), asyncio.Semaphore(1)
        )
        with pytest.raises(HostKeyError):
            await link.connection()
    finally:
        if sup is not None:
            await sup.close()
        await demo.close()

    assert not root.exists()
    assert leftovers(root) == []
    assert not (home / ".ssh").exists(), "the demo touched ~/.ssh"
    assert not (home / ".fleet").exists(), "the demo touched ~/.fleet"
    if not had_own_tmux:
        assert not own_tmux.exists(), "the demo used the default tmux socket directory"


async def test_demo_closes_twice_and_leaves_nothing() -> None:
    demo = await start_demo(keep=False, pace=PACE)
    root = demo.root
    await demo.close()
    await demo.close()  # twice is fine
    assert not root.exists() and leftovers(root) == []


async def _read_until_ready(proc: asyncio.subprocess.Process) -> tuple[Path, str]:
    assert proc.stderr is not None
    seen = ""
    while True:
        line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
        assert line, f"fleet demo ended before it was ready:\n{seen}"
        seen += line
        m = re.search(r"\(sandbox (/\S+)\)", line)
        if m:
            return Path(m.group(1)), seen


async def _start_cli(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fleet",
        "demo",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_fleet_demo_cli_without_a_terminal_serves_until_interrupted() -> None:
    proc = await _start_cli()
    root, seen = await _read_until_ready(proc)
    assert seen.startswith("starting 3 demo hosts")
    env = {"FLEET_CONFIG": str(root / "fleet.toml"), "FLEET_HOME": str(root / "state")}
    try:
        code, out, err = await fleet(env, "ls", "--json")
        assert code == 0, err
        assert len(json.loads(out)) == len(SESSIONS)
    finally:
        proc.send_signal(signal.SIGINT)
        _, rest = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 130, rest.decode()
    assert "demo stopped" in rest.decode()
    assert not root.exists() and leftovers(root) == []


async def test_fleet_demo_keep_keeps_the_sandbox_and_stops_everything() -> None:
    proc = await _start_cli("--keep")
    root, _ = await _read_until_ready(proc)
    try:
        proc.send_signal(signal.SIGTERM)
        _, rest = await asyncio.wait_for(proc.communicate(), 30)
        text = rest.decode()
        env = f"FLEET_CONFIG={root}/fleet.toml FLEET_HOME={root}/state fleet"
        assert env in text, text
        assert leftovers(root) == []
        assert (root / "fleet.toml").is_file() and (root / "state" / "fleet.db").is_file()
        # What fleet recorded is there to come back to.
        code, out, err = await fleet(
            {"FLEET_CONFIG": str(root / "fleet.toml"), "FLEET_HOME": str(root / "state")},
            "ls",
            "--cached",
            "--json",
        )
        assert code == 0, err
        assert {row["ref"] for row in json.loads(out)} == {f"{s.host}/{s.name}" for s in SESSIONS}
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def test_a_killed_demo_is_reaped_by_the_next_one() -> None:
    proc = await _start_cli()
    root, _ = await _read_until_ready(proc)
    proc.kill()  # no chance to clean up
    await proc.wait()
    assert leftovers(root), "expected the killed demo's tmux servers to outlive it"
    await asyncio.to_thread(reap_stale)
    assert not root.exists()
    assert leftovers(root) == []


def test_demo_agent_script_answers_and_exits_by_scenario(tmp_path: Path) -> None:
    """The agent on its own (pipes, no tmux): the finisher edits and exits 0, the crasher 2."""
    from fleet.demo import agents, sandbox

    for name, text in sandbox.DOCS_FILES.items():
        (tmp_path / name).write_text(text)
    run = subprocess.run(
        [sys.executable, agents.__file__, "finisher", "--pace", "0.01", "refresh the docs"],
        cwd=tmp_path,
        input="add a changelog\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 0, run.stderr
    assert "ok, I'll add a changelog." in run.stdout
    assert "Troubleshooting" in (tmp_path / "guide.md").read_text()
    crash = subprocess.run(
        [sys.executable, agents.__file__, "crasher", "--pace", "0"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert crash.returncode == 2 and "exit 2" in crash.stdout
