"""Start and stop the demo: sandbox, SSH server, sessions through the real Supervisor.

    demo = await start_demo(keep=False)
    ...                      # demo.config is a loaded Config; demo.env has FLEET_HOME
    await demo.close()       # stops everything it started; removes the sandbox unless kept

`main()` is `fleet demo`: the server runs on an event loop in a thread of its own, the TUI (or,
without one, a wait for Ctrl-C) in the main thread, and the demo is closed however that ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet.core.config import Config, load_config
from fleet.core.errors import FleetError
from fleet.core.models import Session
from fleet.core.remote.hostside import procs
from fleet.core.store import Store
from fleet.core.supervisor import Supervisor
from fleet.demo.sandbox import (
    DEMO_USER,
    HOSTS,
    SESSIONS,
    Sandbox,
    create_sandbox,
    tmp_parent,
    write_client_files,
)
from fleet.demo.server import DemoServer, ServedHost, host_environment

log = logging.getLogger("fleet.demo")

STOP_TIMEOUT = 3.0  # seconds for the demo hosts' processes to go after SIGTERM
MARKER = "demo.json"  # in the sandbox: the pid of the process serving it, and whether kept


@dataclass
class Demo:
    """A running demo. Close it (always) with `await demo.close()`."""

    sandbox: Sandbox
    server: DemoServer
    config: Config
    keep: bool = False
    sessions: list[Session] = field(default_factory=list)
    started_in: float = 0.0  # seconds start_demo took
    _closed: bool = field(default=False, repr=False)

    @property
    def root(self) -> Path:
        return self.sandbox.root

    @property
    def env(self) -> dict[str, str]:
        """What to put in the environment to use the demo: FLEET_CONFIG and FLEET_HOME."""
        return {
            "FLEET_CONFIG": str(self.sandbox.fleet_toml),
            "FLEET_HOME": str(self.sandbox.state_dir),
        }

    @property
    def come_back(self) -> str:
        return f"FLEET_CONFIG={self.env['FLEET_CONFIG']} FLEET_HOME={self.env['FLEET_HOME']} fleet"

    async def close(self) -> None:
        """Stop the SSH server, every demo host's tmux server, agents and watcher; remove the
        sandbox unless kept. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.server.close()
        finally:
            await asyncio.to_thread(stop_host_processes, self.sandbox, self.server.path)
            if self.keep:
                (self.sandbox.root / MARKER).unlink(missing_ok=True)
            else:
                await asyncio.to_thread(shutil.rmtree, self.sandbox.root, True)


async def start_demo(
    keep: bool = False,
    *,
    pace: float = 1.0,
    progress: Callable[[str], None] | None = None,
) -> Demo:
    """Make a sandbox, serve its three hosts, and start the demo sessions through the real
    Supervisor (two on each host). `pace` scales the demo agents' pauses (tests use less)."""
    started = time.monotonic()
    say = progress or (lambda text: None)
    missing = [tool for tool in ("tmux", "git") if shutil.which(tool) is None]
    if missing:
        raise FleetError(
            f"fleet demo runs its hosts on this machine and needs {' and '.join(missing)} here "
            f"(e.g. apt-get install {' '.join(missing)}, or brew install {' '.join(missing)})"
        )
    await asyncio.to_thread(reap_stale)
    box = await asyncio.to_thread(create_sandbox)
    (box.root / MARKER).write_text(json.dumps({"pid": os.getpid(), "keep": keep}))
    path = f"{box.bin_dir}{os.pathsep}{os.environ.get('PATH') or os.defpath}"
    assert box.client_key is not None
    server = DemoServer(
        [ServedHost(name, box.home(name), box.host_keys[name]) for name in HOSTS],
        box.client_key,
        DEMO_USER,
        path=path,
    )
    demo: Demo | None = None
    try:
        await server.start()
        write_client_files(box, {h.name: h.port for h in server.hosts}, pace)
        config = load_config(box.fleet_toml)
        demo = Demo(box, server, config, keep=keep)
        say(f"hosts up: {', '.join(f'{h.name} (port {h.port})' for h in server.hosts)}")
        demo.sessions = await _start_sessions(box, config)
        say(f"{len(demo.sessions)} demo agents started")
        demo.started_in = time.monotonic() - started
        log.info("demo up in %.2f s in %s", demo.started_in, box.root)
        return demo
    except BaseException:
        if demo is None:
            demo = Demo(box, server, Config(path=box.fleet_toml, exists=False), keep=keep)
        with contextlib.suppress(Exception):
            await asyncio.shield(demo.close())
        raise


async def _start_sessions(box: Sandbox, config: Config) -> list[Session]:
    store = await Store.open(box.state_dir / "fleet.db")
    try:
        async with Supervisor(config, store=store) as sup:

            async def on_host(host: str) -> list[Session]:
                made = []
                for s in SESSIONS:
                    if s.host == host:
                        repo = str(box.repo(host, s.repo))
                        made.append(
                            await sup.new_session(host, repo, s.agent, name=s.name, task=s.task)
                        )
                return made

            per_host = await asyncio.gather(*(on_host(h) for h in HOSTS))
    finally:
        await store.close()
    return [s for made in per_host for s in made]


# -- stopping what the demo hosts left running ------------------------------------------------


def stop_host_processes(box: Sandbox, path: str | None = None) -> None:
    """Stop every process of the demo hosts: their tmux servers (and so the agents), their
    watchers, and anything else whose HOME or command line is inside the sandbox."""
    for name in HOSTS:
        home = box.home(name)
        if not home.is_dir():
            continue
        env = host_environment(name, home, DEMO_USER, path or os.environ.get("PATH") or os.defpath)
        if shutil.which("tmux", path=env["PATH"]):
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(
                    ["tmux", "-L", "fleet", "kill-server"],
                    env=env,
                    cwd=home,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=5,
                )
        pid = _watcher_pid(home)
        if pid is not None and str(box.root) in " ".join(_cmdline(pid)):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
    _sweep(box.root)


def reap_stale() -> None:
    """Stop what a demo killed without closing (SIGKILL, a crash) left running, and remove its
    sandbox unless it was kept. Only sandboxes of this user whose serving process is gone."""
    for root in Path(tmp_parent()).glob("fleet-demo-*"):
        try:
            if root.stat().st_uid != os.getuid():
                continue
            info = json.loads((root / MARKER).read_text())
            pid = int(info["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if pid <= 1 or _alive(pid):
            continue
        log.info("reaping the demo sandbox %s left by pid %d", root, pid)
        stop_host_processes(Sandbox(root))
        if info.get("keep"):
            (root / MARKER).unlink(missing_ok=True)
        else:
            shutil.rmtree(root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, as someone else
    return True


def _watcher_pid(home: Path) -> int | None:
    try:
        info = json.loads((home / ".fleet" / "watcher.json").read_text())
    except (OSError, ValueError):
        return None
    pid = info.get("pid") if isinstance(info, dict) else None
    return pid if isinstance(pid, int) and pid > 1 else None


def _cmdline(pid: int) -> list[str]:
    if Path("/proc/self").exists():
        return procs.cmdline(pid)
    try:  # no /proc (macOS): ask ps
        out = subprocess.run(
            ["ps", "-o", "command=", "-p", str(pid)],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return out.split()


def sandbox_processes(root: Path) -> list[int]:
    """Pids (not this process or its ancestors) of processes of the demo hosts: their command
    line is inside the sandbox, or their HOME / TMUX_TMPDIR is. Linux only (/proc); elsewhere
    an empty list."""
    base = str(root).encode()
    inside = base + b"/"
    env_marks = (b"HOME=" + inside, b"TMUX_TMPDIR=" + inside, b"HOME=" + base + b"\0")
    ours = procs.ancestors()
    found = []
    for pid in procs.pids():
        if pid in ours:
            continue
        cmdline = procs.read(pid, "cmdline")
        if not cmdline:  # gone, a zombie or a kernel thread
            continue
        environ = procs.read(pid, "environ")
        if environ is None:
            continue
        if inside in cmdline or any(mark in b"\0" + environ for mark in env_marks):
            found.append(pid)
    return found


def _sweep(root: Path) -> None:
    victims = sandbox_processes(root)
    for pid in victims:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while victims and time.monotonic() < deadline:
        time.sleep(0.05)
        victims = sandbox_processes(root)
    for pid in victims:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


# -- `fleet demo` -------------------------------------------------------------------------------


class _Runner:
    """The demo on an event loop in a thread of its own, so the TUI can have the main thread."""

    def __init__(self, keep: bool, pace: float, progress: Callable[[str], None]) -> None:
        self.keep = keep
        self.pace = pace
        self.progress = progress
        self.demo: Demo | None = None
        self.error: BaseException | None = None
        self.ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="fleet-demo", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        with contextlib.suppress(BaseException):
            asyncio.run(self._main())
        self.ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._stop = asyncio.Event()
        try:
            self.demo = await start_demo(self.keep, pace=self.pace, progress=self.progress)
        except BaseException as exc:
            self.error = exc
            return
        finally:
            self.ready.set()
        try:
            await self._stop.wait()
        finally:
            await asyncio.shield(self.demo.close())

    def wait_ready(self) -> Demo:
        while not self.ready.wait(0.1):
            pass
        if self.demo is None:
            raise self.error or RuntimeError("the demo did not start")
        return self.demo

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():

            def request() -> None:
                if self.demo is None and self._task is not None:
                    self._task.cancel()  # still starting: start_demo cleans up
                elif self._stop is not None:
                    self._stop.set()

            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(request)
        while self._thread.is_alive():
            try:
                self._thread.join()
            except KeyboardInterrupt:
                print("fleet: still stopping the demo...", file=sys.stderr)


def main(keep: bool = False, verbose: bool = False, pace: float = 1.0) -> int:
    """`fleet demo [--keep]`: start the demo, open the TUI on it, stop it all afterwards."""
    from fleet.core.logs import setup_logging

    logging.getLogger("asyncssh").addHandler(logging.NullHandler())  # never on the TUI's screen

    def progress(text: str) -> None:
        print(f"  {text}", file=sys.stderr, flush=True)

    print("starting 3 demo hosts…", file=sys.stderr, flush=True)
    runner = _Runner(keep, pace, progress)
    runner.start()
    demo: Demo | None = None
    previous = _interrupt_on(signal.SIGTERM, signal.SIGHUP)  # `kill` stops the demo cleanly
    try:
        demo = runner.wait_ready()
        os.environ.update(demo.env)
        setup_logging(verbose=verbose)
        print(
            f"demo ready in {demo.started_in:.1f} s: {len(demo.sessions)} agents on "
            f"{', '.join(HOSTS)} (sandbox {demo.root})",
            file=sys.stderr,
            flush=True,
        )
        run_app = _tui()
        if run_app is not None:
            return run_app(demo.config)
        print(
            "no terminal UI here; the demo runs until Ctrl-C. Try, in another terminal:\n"
            f"  {demo.come_back} ls",
            file=sys.stderr,
            flush=True,
        )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 130
    finally:
        if demo is not None:
            print("stopping the demo…", file=sys.stderr, flush=True)
        runner.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if demo is not None:
            if keep:
                print(
                    f"kept the demo sandbox {demo.root}. Its hosts lived in `fleet demo` and "
                    f"are gone; what fleet recorded stays. Come back with:\n  {demo.come_back}",
                    file=sys.stderr,
                )
            else:
                print("demo stopped; its sandbox is removed.", file=sys.stderr)


def _interrupt_on(*signals: signal.Signals) -> dict[signal.Signals, Any]:
    """Make these signals raise KeyboardInterrupt (as Ctrl-C does); returns the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {}
    for sig in signals:
        with contextlib.suppress(OSError, ValueError):
            previous[sig] = signal.signal(sig, interrupt)
    return previous


def _tui() -> Callable[[Config], int] | None:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return None
    try:
        from fleet.ui.app import run_app
    except ImportError:
        return None
    return run_app
