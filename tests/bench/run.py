"""fleet's benchmark: `python tests/bench/run.py [--quick]`.

Builds a fleet on loopback, measures the real supervisor (the same core and UI code a person
runs, in its own process) and prints a table, then, as its LAST line, one JSON object with
every figure (and, under "sources", where each came from: "sim" = the simulated fleet behind
the watch-stream boundary, "real" = real sshd + tmux + git hosts). See tests/bench/README.md.

Exit status: 0 when every figure was measured, 1 when one is missing, 2 when the run broke.
Targets are reported (ok / MISS), never enforced: a slow machine is not a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `tests.bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.figures import REQUIRED, SCALE_REQUIRED, Figures
from tests.bench.realphase import RealPlan, run_real
from tests.bench.simphase import SimPlan, run_sim

FULL = (
    SimPlan(hosts=50, sessions=1000, busy=100, window=20.0, keys=200, diffs=3, paints=3),
    RealPlan(hosts=5, per_host=20, window=20.0, steers=20, asks=40),
)
# The tier at the scale: supervisor-side figures only (no real hosts), named scale_*.
SCALE = SimPlan(hosts=500, sessions=10_000, busy=500, window=20.0, keys=200, diffs=0, paints=3)
QUICK = (
    SimPlan(hosts=10, sessions=200, busy=100, window=3.0, keys=40, diffs=1, paints=1),
    RealPlan(hosts=2, per_host=5, window=3.0, steers=4, asks=10),
)


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


async def bench(quick: bool, scale: bool, only_scale: bool) -> Figures:
    sim, real = QUICK if quick else FULL
    figs = Figures()
    if only_scale:
        await bench_scale(figs)
        return figs
    figs.add("sessions", sim.sessions, "sim", f"real hosts: {real.hosts * real.per_host}")
    figs.add("hosts", sim.hosts, "sim", f"real hosts: {real.hosts}")
    t = time.monotonic()
    log(f"simulated fleet: {sim.sessions} sessions on {sim.hosts} hosts")
    await run_sim(sim, figs, log)
    log(f"simulated part took {time.monotonic() - t:.0f} s")
    t = time.monotonic()
    log(f"real fleet: {real.hosts} sshd hosts x {real.per_host} sessions")
    await run_real(real, figs, log)
    log(f"real part took {time.monotonic() - t:.0f} s")
    figs.ratio(
        "ratio_status_latency_p50", "baseline_status_latency_p50_ms", "status_latency_p50_ms"
    )
    figs.ratio("ratio_cpu_active", "baseline_cpu_active_pct", "cpu_active_pct")
    figs.ratio("ratio_cpu_idle", "baseline_cpu_idle_pct", "cpu_idle_pct")
    figs.ratio(
        "ratio_idle_bytes", "baseline_idle_bytes_per_s_per_host", "idle_bytes_per_s_per_host"
    )
    if scale:
        await bench_scale(figs)
    return figs


async def bench_scale(figs: Figures) -> None:
    """The 10,000-session tier: the sim fleet's figures, renamed scale_*."""
    t = time.monotonic()
    log(f"scale tier: {SCALE.sessions} sessions on {SCALE.hosts} simulated hosts")
    tier = Figures()
    await run_sim(SCALE, tier, log)
    figs.add("scale_sessions", SCALE.sessions, "sim", f"{SCALE.busy} busy")
    figs.add("scale_hosts", SCALE.hosts, "sim")
    for fig in tier.items.values():
        figs.add(scale_key(fig.key), fig.value, fig.source, fig.note)
    log(f"scale tier took {time.monotonic() - t:.0f} s")


def scale_key(key: str) -> str:
    if key == "sim_cold_start_s":
        return "scale_all_live_s"
    return "scale_" + key.removeprefix("sim_")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small fleet, under a minute")
    parser.add_argument(
        "--scale",
        action="store_true",
        help="also the 10,000-session tier (500 simulated hosts, 500 busy): scale_* figures",
    )
    parser.add_argument(
        "--scale-only", action="store_true", help="only the 10,000-session tier (to work on it)"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        figs = asyncio.run(bench(args.quick, args.scale, args.scale_only))
    except Exception as exc:  # report, then fail: CI must see a broken run
        log(f"benchmark failed: {type(exc).__name__}: {exc}")
        return 2
    figs.add(
        "bench_seconds",
        round(time.monotonic() - started, 1),
        "both",
        "scale"
        if args.scale_only
        else ("quick" if args.quick else "full") + (" + scale" if args.scale else ""),
    )
    print(figs.table())
    required = (() if args.scale_only else REQUIRED) + (
        SCALE_REQUIRED if args.scale or args.scale_only else ()
    )
    missing = figs.missing(required)
    if missing:
        print(f"missing figures: {', '.join(missing)}")
    print(figs.json_line(), flush=True)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
