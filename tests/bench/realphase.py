"""Figures from real hosts: OpenSSH sshd + tmux + git on loopback (tests/integration/hosts.py).

Each host is its own Unix user running fleet's real helper and watcher; each session is a real
tmux pane made by fleet, running tests/bench/benchagent.py. The supervisor under test (the
real FleetApp, headless, in its own process) and then the polling baseline (its own process)
reach every sshd through a byte-counting proxy. Figures (source "real"): status latency (host
print -> model, and -> painted card), supervisor CPU busy / quiet, idle bytes, steering, the
host helper's CPU, and the same latency / CPU / bytes for the baseline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fleet.core.config import load_config
from fleet.core.models import Session
from fleet.core.supervisor import Supervisor
from tests.bench.figures import CpuMeter, Figures, percentile, proc_peak_rss_mb
from tests.bench.procs import BenchError, Child, wait_until
from tests.bench.simphase import bench_env
from tests.integration.faults import FaultyProxy
from tests.integration.hosts import LoopbackFleet
from tests.integration.procfs import pids_of

AGENT = Path(__file__).with_name("benchagent.py")
SETUP = 300.0  # deadline for the fleet to come up: only a hang reaches it


@dataclass(frozen=True)
class RealPlan:
    hosts: int
    per_host: int
    window: float
    steers: int
    asks: int


def _is_helper(argv: list[str]) -> bool:
    """fleet's helper on a host: the watcher daemon and watch streams (not agent wrappers)."""
    for i, arg in enumerate(argv):
        if "/helper-" in arg and arg.endswith(".pyz"):
            return argv[i + 1 :] in ([], ["watcher"])
    return False


class HelperMeter:
    """CPU of each host's helper processes (with the tmux/git children they reaped)."""

    def __init__(self, lf: LoopbackFleet) -> None:
        self.meters = {h.name: CpuMeter(pids_of(h.uid, _is_helper)) for h in lf.hosts}

    def per_host(self) -> list[float]:
        return [m.pct() for m in self.meters.values()]


def write_config(lf: LoopbackFleet, proxies: dict[str, FaultyProxy] | None, name: str) -> Path:
    """fleet.toml (+ ssh_config, known_hosts) for the hosts, through `proxies` when given."""
    agent = lf.dir / "benchagent.py"
    if not agent.exists():
        shutil.copy(AGENT, agent)
        agent.chmod(0o644)
    ssh_lines, known = [], []
    for h in lf.hosts:
        port = proxies[h.name].port if proxies else h.port
        ssh_lines.append(
            f"Host {h.name}\n  HostName 127.0.0.1\n  Port {port}\n  User {h.user}\n"
            f"  IdentityFile {lf.client_key}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {lf.dir / (name + '.known_hosts')}\n"
            "  GlobalKnownHostsFile /dev/null\n"
        )
        known.append(f"[127.0.0.1]:{port} {h.host_key_line}\n")
    (lf.dir / f"{name}.known_hosts").write_text("".join(known))
    ssh_config = lf.dir / f"{name}.ssh_config"
    ssh_config.write_text("\n".join(ssh_lines))
    toml = f'[ssh]\nconfig = "{ssh_config}"\n'
    for h in lf.hosts:
        toml += f'\n[hosts.{h.name}]\nssh = "{h.name}"\n'
    toml += f'\n[agents.bench]\ncommand = "python3 {agent}"\nenter_delay = 0.0\n'
    toml += "waiting = ['Allow it\\? \\(y/n\\) ?\\Z']\n"  # its dialog (needs-input latency)
    toml += 'signals = "claude"\n'  # and the hook it fires as it shows it
    path = lf.dir / f"{name}.toml"
    path.write_text(toml)
    return path


async def start_sessions(lf: LoopbackFleet, config: Path, per_host: int) -> list[Session]:
    async with Supervisor(load_config(config)) as sup:

        async def on_host(host: str) -> list[Session]:
            return [
                await sup.new_session(host, "~/repo", agent="bench", name=f"b{i:02d}")
                for i in range(per_host)
            ]

        made = await asyncio.gather(*(on_host(h.name) for h in lf.hosts))
    return [s for host in made for s in host]


def set_busy(lf: LoopbackFleet, busy: bool) -> None:
    for h in lf.hosts:
        flag = h.home / "bench-busy"
        if busy:
            flag.write_text("")
        else:
            flag.unlink(missing_ok=True)


async def run_real(plan: RealPlan, figs: Figures, log: Callable[[str], None] = print) -> None:
    names = [f"r{i}" for i in range(plan.hosts)]
    with LoopbackFleet(names=names) as lf, contextlib.ExitStack() as stack:
        direct = write_config(lf, None, "direct")
        t = time.monotonic()
        sessions = await start_sessions(lf, direct, plan.per_host)
        log(
            f"real: {len(sessions)} sessions on {plan.hosts} hosts started in "
            f"{time.monotonic() - t:.1f} s"
        )
        sup_px = {h.name: stack.enter_context(FaultyProxy(h.port)) for h in lf.hosts}
        base_px = {h.name: stack.enter_context(FaultyProxy(h.port)) for h in lf.hosts}
        env = bench_env(lf.dir / "bench")
        env["FLEET_CONFIG"] = str(write_config(lf, sup_px, "sup"))
        await measure_fleet(plan, figs, lf, sessions, sup_px, env, log)
        spec = {
            "ssh_config": str(write_config(lf, base_px, "base").with_suffix(".ssh_config")),
            "hosts": {
                h.name: [
                    {"tmux": f"fleet-{s.id}", "worktree": s.worktree}
                    for s in sessions
                    if s.host == h.name
                ]
                for h in lf.hosts
            },
        }
        spec_path = lf.dir / "baseline.json"
        spec_path.write_text(json.dumps(spec))
        await measure_baseline(plan, figs, lf, spec_path, base_px, log)


async def measure_fleet(
    plan: RealPlan,
    figs: Figures,
    lf: LoopbackFleet,
    sessions: list[Session],
    proxies: dict[str, FaultyProxy],
    env: dict[str, str],
    log: Callable[[str], None],
) -> None:
    total = len(sessions)
    sup = Child("supervisor (real)")
    await sup.start(
        "tests.bench.supervised", ["--t0", str(time.time()), "--expect", str(total)], env
    )
    try:
        await sup.wait_event("started")

        async def all_live() -> dict[str, object] | None:
            s = await sup.call("status")
            return s if s["hosts_up"] == plan.hosts and s["live"] >= total else None

        await wait_until(f"{total} real sessions live", all_live, SETUP)
        await asyncio.sleep(3.0)  # first screens, output backlog and diff stats settle

        sent = sum(p.bytes for p in proxies.values())
        meter, helpers = CpuMeter([sup.pid]), HelperMeter(lf)
        t0 = time.monotonic()
        await asyncio.sleep(plan.window)
        quiet_s = time.monotonic() - t0
        idle_bytes = (sum(p.bytes for p in proxies.values()) - sent) / quiet_s / plan.hosts
        figs.add("cpu_idle_pct", meter.pct(), "real", f"{total} sessions quiet")
        figs.add(
            "idle_bytes_per_s_per_host",
            round(idle_bytes, 1),
            "real",
            f"{quiet_s:.0f} s window, both directions",
        )
        figs.add(
            "host_helper_cpu_idle_pct_per_20_sessions",
            statistics.mean(helpers.per_host()) * 20 / plan.per_host,
            "real",
        )

        set_busy(lf, True)
        await asyncio.sleep(1.0)
        await sup.call("record", on=True)
        sent = sum(p.bytes for p in proxies.values())
        meter, helpers = CpuMeter([sup.pid]), HelperMeter(lf)
        t0 = time.monotonic()
        await asyncio.sleep(plan.window)
        busy_s = time.monotonic() - t0
        cpu_active, helper = meter.pct(), helpers.per_host()
        busy_bytes = (sum(p.bytes for p in proxies.values()) - sent) / busy_s / plan.hosts
        await sup.call("record", on=False)
        set_busy(lf, False)
        lat = await sup.call("latency")
        model, render = lat["model_ms"], lat["render_ms"]
        figs.add(
            "status_latency_p50_ms",
            percentile(model, 50),
            "real",
            f"print on host -> model, n={len(model)}",
        )
        figs.add("status_latency_p99_ms", percentile(model, 99), "real")
        add_stages(figs, lat["stages_ms"])
        figs.add(
            "render_latency_p50_ms",
            percentile(render, 50),
            "real",
            f"print on host -> painted card, n={len(render)}",
        )
        figs.add("render_latency_p99_ms", percentile(render, 99), "real")
        figs.add("cpu_active_pct", cpu_active, "real", f"{total} sessions printing 5 lines/s")
        figs.add("busy_bytes_per_s_per_host", round(busy_bytes, 1), "real")
        figs.add(
            "host_helper_cpu_pct_per_20_sessions",
            statistics.mean(helper) * 20 / plan.per_host,
            "real",
            f"busy; hosts {', '.join(f'{x:.1f}' for x in helper)} % at {plan.per_host}/host",
        )

        await asyncio.sleep(1.0)
        steer, to_app, to_call, call = await measure_steer(plan, lf, sup, sessions)
        figs.add(
            "steer_ms_p50",
            percentile(steer, 50),
            "real",
            f"enter -> text in the pane, n={len(steer)}, max {max(steer):.0f} ms; p50 enter -> "
            f"box hands over {percentile(to_app, 50):.0f} ms, -> send call "
            f"{percentile(to_call, 50):.0f} ms, the call {percentile(call, 50):.0f} ms",
        )
        asked, on_host = await measure_needs_input(plan, lf, sup, sessions)
        figs.add(
            "needs_input_latency_p50_ms",
            percentile(asked, 50),
            "real",
            f"dialog shown in a pane -> the model's card needs-input, n={len(asked)}, "
            f"max {max(asked):.0f} ms; p50 of it on the host (-> journaled) "
            f"{percentile(on_host, 50):.0f} ms",
        )
        figs.add("needs_input_latency_p99_ms", percentile(asked, 99), "real")
        figs.add("real_rss_mb", proc_peak_rss_mb(sup.pid), "real")
    finally:
        await sup.stop()
        set_busy(lf, False)


STAGES = {
    "host": "printed -> captured on the host",
    "wire": "captured -> decoded by the supervisor",
    "supervisor": "decoded -> the model",
}


def add_stages(figs: Figures, stages: dict[str, list[float]]) -> None:
    """The status latency split where it goes (the same markers, per stage)."""
    for stage, what in STAGES.items():
        times = stages.get(stage, [])
        figs.add(f"status_{stage}_p50_ms", percentile(times, 50), "real", what)
        figs.add(f"status_{stage}_p99_ms", percentile(times, 99), "real")


async def measure_steer(
    plan: RealPlan, lf: LoopbackFleet, sup: Child, sessions: list[Session]
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Enter -> text in the pane; and of that: enter -> the box hands the text to the app,
    enter -> Supervisor.send called, and the call."""
    by_key = {(s.host, s.id): s for s in sessions}
    visible = [tuple(k) for k in (await sup.call("visible"))["keys"]]
    targets = [by_key[k] for k in visible if k in by_key] or sessions  # type: ignore[index]
    out: list[float] = []
    entered: list[float] = []
    for i in range(plan.steers):
        s = targets[i % len(targets)]
        token = f"steer-{secrets.token_hex(6)}!"
        log_path = lf.host(s.host).home / f"steer-{s.id}.jsonl"
        reply = await sup.call("steer", ref=f"{s.host}/{s.id}", text=f"please {token}")
        if "enter_at" not in reply:
            raise BenchError(f"steer failed: {reply}")
        entered.append(float(reply["enter_at"]))

        async def arrived(path: Path = log_path, token: str = token) -> float | None:
            with contextlib.suppress(OSError):
                for line in path.read_text().splitlines():
                    entry = json.loads(line)
                    if entry.get("token") == token:
                        return float(entry["t"])
            return None

        t = await wait_until(f"steering text in {s.host}/{s.name}", arrived, 60, 0.002)
        out.append(round((t - float(reply["enter_at"])) * 1000, 1))
        await asyncio.sleep(0.3)  # the app's send finishes (notify) before the next one
    timings = await sup.call("sends")
    sends, handed = timings["sends"], timings["handed"]
    if not len(sends) == len(handed) == len(entered):
        raise BenchError(f"{len(entered)} steers but {len(sends)} send calls")
    to_app = [round((h - at) * 1000, 1) for at, h in zip(entered, handed, strict=True)]
    to_call = [round((began - at) * 1000, 1) for at, (began, _) in zip(entered, sends, strict=True)]
    call = [round((end - began) * 1000, 1) for began, end in sends]
    return out, to_app, to_call, call


def _journaled(home: Path, session: str, after: float) -> float | None:
    """When the host's watcher journaled `session` needs-input, first after `after`."""
    with contextlib.suppress(OSError):
        for line in (home / ".fleet" / "journal.jsonl").read_text().splitlines()[-2000:]:
            with contextlib.suppress(ValueError):
                r = json.loads(line)
                mine = r.get("type") == "status" and r.get("session") == session
                if mine and r.get("status") == "needs-input" and float(r.get("t", 0)) >= after:
                    return float(r["t"])
    return None


async def measure_needs_input(
    plan: RealPlan, lf: LoopbackFleet, sup: Child, sessions: list[Session]
) -> tuple[list[float], list[float]]:
    """The bench agent shows its dialog -> the supervisor's model has the card needs-input
    (and of that, -> the host's watcher journaled it); then the dialog goes and the card
    leaves needs-input before the next one."""
    out: list[float] = []
    on_host: list[float] = []
    for i in range(plan.asks):
        s = sessions[i % len(sessions)]
        key = [s.host, s.id]
        home = lf.host(s.host).home
        flag, stamps = home / f"ask-{s.id}", home / f"ask-{s.id}.jsonl"
        seen = len(stamps.read_text().splitlines()) if stamps.exists() else 0
        flag.write_text("")

        async def shown(path: Path = stamps, seen: int = seen) -> float | None:
            with contextlib.suppress(OSError, ValueError, IndexError):
                lines = path.read_text().splitlines()
                return float(json.loads(lines[seen])["t"]) if len(lines) > seen else None
            return None

        t_shown = await wait_until(f"the dialog in {s.host}/{s.name}", shown, 60, 0.005)

        async def waiting(key: list[str] = key, after: float = t_shown) -> float | None:
            t = (await sup.call("needs_input", key=key, after=after)).get("t")
            return float(t) if t is not None else None

        t_model = await wait_until(f"{s.host}/{s.name} needs-input", waiting, 60, 0.005)
        out.append(round((t_model - t_shown) * 1000, 1))
        t_host = _journaled(home, s.id, t_shown)
        if t_host is not None:
            on_host.append(round((t_host - t_shown) * 1000, 1))
        flag.unlink()

        async def answered(key: list[str] = key) -> bool | None:
            return (await sup.call("card_status", key=key)).get("status") != "needs-input" or None

        await wait_until(f"{s.host}/{s.name} past its dialog", answered, 60, 0.02)
    return out, on_host


async def measure_baseline(
    plan: RealPlan,
    figs: Figures,
    lf: LoopbackFleet,
    spec: Path,
    proxies: dict[str, FaultyProxy],
    log: Callable[[str], None],
) -> None:
    base = Child("polling baseline")
    await base.start("tests.bench.baseline", [str(spec)], dict(os.environ))
    try:
        await base.wait_event("started")
        await asyncio.sleep(2.0)
        await base.call("record", on=True)
        sent = sum(p.bytes for p in proxies.values())
        meter = CpuMeter([base.pid])
        t0 = time.monotonic()
        await asyncio.sleep(plan.window)
        quiet_s = time.monotonic() - t0
        figs.add("baseline_cpu_idle_pct", meter.pct(), "real", "polling, all quiet")
        idle_bytes = (sum(p.bytes for p in proxies.values()) - sent) / quiet_s / plan.hosts
        figs.add("baseline_idle_bytes_per_s_per_host", round(idle_bytes, 1), "real")
        quiet = await base.call("latency")

        set_busy(lf, True)
        await asyncio.sleep(1.0)
        await base.call("record", on=True)
        meter = CpuMeter([base.pid])
        await asyncio.sleep(plan.window)
        figs.add("baseline_cpu_active_pct", meter.pct(), "real", "polling, all printing")
        lat = await base.call("latency")
        set_busy(lf, False)
        model = lat["latency_ms"]
        late = lat["late_ms"]
        polls_per_s = lat["polls"] / plan.window
        want = sum(len(v) for v in json.loads(spec.read_text())["hosts"].values()) * 2
        figs.add(
            "baseline_status_latency_p50_ms",
            percentile(model, 50),
            "real",
            f"print -> seen by the poller, n={len(model)}",
        )
        figs.add("baseline_status_latency_p99_ms", percentile(model, 99), "real")
        figs.add(
            "baseline_polls_per_s",
            round(polls_per_s, 1),
            "real",
            f"wanted {want}/s; p50 late {percentile(late, 50):.0f} ms; quiet polls "
            f"{quiet['polls']}",
        )
    finally:
        await base.stop()
        set_busy(lf, False)
