"""Supervisor-side figures at scale: the real FleetApp over simulated hosts (see simfleet).

Figures (source "sim"): keystroke p99 with 100 sessions busy, first paint from the cache, diff
open, peak RSS, and the supervisor's CPU and status latency at this scale (as extras: the
headline CPU and latency come from the real hosts, where the baseline runs too).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.bench.figures import CpuMeter, Figures, percentile, proc_cpu, proc_peak_rss_mb
from tests.bench.procs import BenchError, Child, wait_until

SETUP = 180.0  # seconds for the simulated fleet to come up: only a hang reaches it


@dataclass(frozen=True)
class SimPlan:
    hosts: int
    sessions: int
    busy: int
    window: float  # seconds of each CPU window
    keys: int
    diffs: int  # 0: no diff-open figure
    paints: int


async def run_sim(plan: SimPlan, figs: Figures, log: object = print) -> None:
    root = Path(tempfile.mkdtemp(prefix="fleet-bench-sim-"))
    env = bench_env(root)
    sim = Child("simulated hosts")
    await sim.start("tests.bench.simfleet", [str(root), str(plan.hosts), str(plan.sessions)], env)
    try:
        await _ready(sim)
        env["FLEET_CONFIG"] = str(root / "fleet.toml")
        await measure_live(plan, figs, env, sim, log)
        await measure_first_paint(plan, figs, env, root, log)
    finally:
        await sim.stop()
        shutil.rmtree(root, ignore_errors=True)


async def _ready(sim: Child) -> None:
    while True:
        data = await sim.next()
        if data.get("ready"):
            return


def bench_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["FLEET_HOME"] = str(root / "state")
    env["XDG_CONFIG_HOME"] = str(root / "xdg-config")
    env["XDG_DATA_HOME"] = str(root / "xdg-data")
    env.pop("FLEET_CONFIG", None)
    return env


async def set_busy(sim: Child, n: int) -> None:
    await sim.send(busy=n)
    while "busy" not in await sim.next():
        pass


async def measure_live(
    plan: SimPlan, figs: Figures, env: dict[str, str], sim: Child, log: object
) -> None:
    sup = Child("supervisor (sim)")
    t0 = time.time()
    await sup.start(
        "tests.bench.supervised", ["--t0", str(t0), "--expect", str(plan.sessions)], env
    )
    try:
        await sup.wait_event("started")

        last: dict[str, object] = {}

        async def all_live() -> dict[str, object] | None:
            s = await sup.call("status")
            last.update(s)
            ok = s["hosts_up"] == plan.hosts and s["live"] >= plan.sessions
            return s if ok else None

        try:
            await wait_until(f"{plan.sessions} sessions on {plan.hosts} hosts", all_live, SETUP)
        except BenchError as exc:
            raise BenchError(
                f"{exc}; last status {last}; stderr: {sup.stderr_tail[-10:]}"
            ) from None
        cold = time.time() - t0
        used = proc_cpu(sup.pid)  # what a loaded machine does not change much, unlike `cold`
        _say(log, f"sim: {plan.sessions} sessions on {plan.hosts} hosts live in {cold:.1f} s")
        figs.add(
            "sim_cold_start_s",
            round(cold, 2),
            "sim",
            f"start -> every host answered; {used:.1f} s of supervisor CPU",
        )

        await asyncio.sleep(2.0)  # initial screens and output settle
        meter = CpuMeter([sup.pid])
        await asyncio.sleep(plan.window)
        figs.add("sim_cpu_idle_pct", meter.pct(), "sim", f"{plan.sessions} sessions, all quiet")

        await set_busy(sim, plan.busy)
        await asyncio.sleep(1.0)
        await sup.call("record", on=True)
        meter = CpuMeter([sup.pid])
        store = StoreMeter(sup.pid, root_of(env))
        await asyncio.sleep(plan.window)
        cpu_active = meter.pct()
        await sup.call("record", on=False)
        store.add_to(figs)
        lat = await sup.call("latency")
        figs.add("sim_cpu_active_pct", cpu_active, "sim", f"{plan.busy} of {plan.sessions} busy")
        model, render = lat["model_ms"], lat["render_ms"]
        figs.add(
            "sim_status_latency_p50_ms",
            percentile(model, 50),
            "sim",
            f"host change -> model, n={len(model)}",
        )
        figs.add("sim_status_latency_p99_ms", percentile(model, 99), "sim")
        figs.add(
            "sim_render_latency_p50_ms",
            percentile(render, 50),
            "sim",
            f"host change -> painted card, n={len(render)}",
        )
        figs.add("sim_render_latency_p99_ms", percentile(render, 99), "sim")

        keys = (await sup.call("keys", n=plan.keys))["keys_ms"]
        figs.add("keystroke_p50_ms", percentile(keys, 50), "sim", f"n={len(keys)}")
        figs.add(
            "keystroke_p99_ms",
            percentile(keys, 99),
            "sim",
            f"{plan.busy} busy of {plan.sessions}, key event -> frame",
        )
        await set_busy(sim, 0)

        opened: list[float] = []
        for _ in range(plan.diffs):
            reply = await sup.call("diff")
            opened.append(float(reply["diff_ms"]))
            _say(log, f"sim: diff open {reply}")
        if opened:
            figs.add(
                "diff_open_ms",
                statistics.median(opened),
                "sim",
                f"10,000-line diff, median of {len(opened)} (first {opened[0]:.0f} ms)",
            )
        figs.add("rss_mb", proc_peak_rss_mb(sup.pid), "sim", f"peak, {plan.sessions} sessions")
    finally:
        await sup.stop()


async def measure_first_paint(
    plan: SimPlan, figs: Figures, env: dict[str, str], root: Path, log: object
) -> None:
    """Start -> the grid painted from the cache, while no host answers (a silent port)."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(1024)  # accepts in the kernel, never speaks: no host ever answers
    port = hole.getsockname()[1]
    ssh = (root / "ssh_config").read_text()
    silent = root / "ssh_config_silent"
    silent.write_text(
        "\n".join(
            f"  Port {port}" if line.strip().startswith("Port ") else line
            for line in ssh.splitlines()
        )
    )
    toml = (root / "fleet.toml").read_text().replace(str(root / "ssh_config"), str(silent))
    (root / "fleet-silent.toml").write_text(toml)
    env = dict(env, FLEET_CONFIG=str(root / "fleet-silent.toml"))
    paints: list[float] = []
    try:
        for _ in range(plan.paints):
            sup = Child("supervisor (first paint)")
            t0 = time.time()
            args = ["--t0", str(t0), "--expect", str(plan.sessions)]
            await sup.start("tests.bench.supervised", args, env)
            try:
                painted = await sup.wait_event("painted")
                status = await sup.call("status")
                if status["hosts_up"]:
                    raise BenchError(f"a host answered during the first-paint run: {status}")
                paints.append(float(painted["ms"]))
            finally:
                await sup.stop()
    finally:
        hole.close()
    _say(log, f"sim: first paints {paints}")
    figs.add(
        "first_paint_ms",
        statistics.median(paints),
        "sim",
        f"{plan.sessions} cached cards, exec -> frame, median of {len(paints)}",
    )
    figs.add("first_paint_ms_max", max(paints), "sim")
    return None


def root_of(env: dict[str, str]) -> Path:
    return Path(env["FLEET_HOME"])


class StoreMeter:
    """The store's size (every file under FLEET_HOME) and what the supervisor wrote per second.

    The write rate is the supervisor's `wchar` from /proc/PID/io over the window: the store and
    its WAL, plus a little SSH and the JSON lines to the harness.
    """

    def __init__(self, pid: int, home: Path) -> None:
        self.pid, self.home = pid, home
        self.t0, self.w0 = time.monotonic(), _wchar(pid)

    def add_to(self, figs: Figures) -> None:
        rate = (_wchar(self.pid) - self.w0) / max(1e-6, time.monotonic() - self.t0)
        size = sum(p.stat().st_size for p in self.home.rglob("*") if p.is_file())
        figs.add("sim_store_mb", size / 1e6, "sim", "every file under FLEET_HOME, after busy")
        figs.add("sim_store_write_kb_s", rate / 1e3, "sim", "supervisor wchar/s, while busy")


def _wchar(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("wchar:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _say(log: object, text: str) -> None:
    if callable(log):
        log(text)
