"""The benchmark's figures: percentiles, per-process CPU from /proc, the table and the JSON line.

Every figure records where it came from ("sim": the simulated 1,000-session fleet behind the
watch-stream boundary; "real": real sshd + tmux + git hosts on loopback) so the table can say so.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from fleet.core.remote.hostside import procs

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Key -> (target, better when "low" or "high"). Ratios: higher is better.
TARGETS: dict[str, tuple[float, str]] = {
    "status_latency_p50_ms": (300, "low"),
    "status_latency_p99_ms": (1000, "low"),
    "keystroke_p99_ms": (50, "low"),
    "cpu_active_pct": (25, "low"),
    "cpu_idle_pct": (2, "low"),
    "idle_bytes_per_s_per_host": (1000, "low"),
    "rss_mb": (300, "low"),
    "first_paint_ms": (1000, "low"),
    "diff_open_ms": (150, "low"),
    "steer_ms_p50": (50, "low"),
    "needs_input_latency_p50_ms": (150, "low"),
    "needs_input_latency_p99_ms": (400, "low"),
    "host_helper_cpu_pct_per_20_sessions": (3, "low"),
    "ratio_cpu_active": (10, "high"),
    "ratio_idle_bytes": (100, "high"),
    "scale_keystroke_p99_ms": (50, "low"),
    "scale_first_paint_ms": (1000, "low"),
    "scale_rss_mb": (500, "low"),
    "scale_cpu_idle_pct": (3, "low"),
    "scale_all_live_s": (60, "low"),
}

REQUIRED = (
    "sessions",
    "hosts",
    "status_latency_p50_ms",
    "status_latency_p99_ms",
    "keystroke_p99_ms",
    "cpu_active_pct",
    "cpu_idle_pct",
    "idle_bytes_per_s_per_host",
    "rss_mb",
    "first_paint_ms",
    "diff_open_ms",
    "steer_ms_p50",
    "needs_input_latency_p50_ms",
    "needs_input_latency_p99_ms",
    "host_helper_cpu_pct_per_20_sessions",
    "baseline_status_latency_p50_ms",
    "baseline_status_latency_p99_ms",
    "baseline_cpu_active_pct",
    "baseline_cpu_idle_pct",
    "baseline_idle_bytes_per_s_per_host",
    "ratio_status_latency_p50",
    "ratio_cpu_active",
    "ratio_cpu_idle",
    "ratio_idle_bytes",
)

SCALE_REQUIRED = (
    "scale_sessions",
    "scale_hosts",
    "scale_keystroke_p99_ms",
    "scale_first_paint_ms",
    "scale_rss_mb",
    "scale_cpu_idle_pct",
    "scale_cpu_active_pct",
    "scale_all_live_s",
)


def percentile(samples: Iterable[float], p: float) -> float:
    """The p-th percentile (nearest rank); NaN for no samples."""
    s = sorted(samples)
    if not s:
        return math.nan
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def proc_cpu(pid: int, children: bool = True) -> float:
    """utime + stime (+ cutime + cstime) of pid in seconds; 0 when it is gone."""
    fields = procs.stat(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


def proc_peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of pid in MB."""
    peak = procs.status(pid).get("VmHWM")
    return round(int(peak.split()[0]) / 1024, 1) if peak else math.nan


class CpuMeter:
    """% of one core a set of processes used over a window (pids may come and go)."""

    def __init__(self, pids: Iterable[int]) -> None:
        self.pids = list(pids)
        self.start = {pid: proc_cpu(pid) for pid in self.pids}
        self.t0 = time.monotonic()

    def pct(self) -> float:
        used = sum(proc_cpu(pid) - self.start[pid] for pid in self.pids)
        return round(100 * used / max(1e-6, time.monotonic() - self.t0), 2)


@dataclass
class Figure:
    key: str
    value: float | int
    source: str  # "sim", "real", "both"
    note: str = ""


@dataclass
class Figures:
    items: dict[str, Figure] = field(default_factory=dict)

    def add(self, key: str, value: float | int, source: str, note: str = "") -> None:
        if isinstance(value, float) and not math.isnan(value):
            value = round(value, 2)
        self.items[key] = Figure(key, value, source, note)

    def get(self, key: str) -> float:
        fig = self.items.get(key)
        return math.nan if fig is None else float(fig.value)

    def ratio(self, key: str, baseline: str, ours: str, source: str = "real") -> None:
        """baseline / ours: how many times better fleet is (higher is better)."""
        b, o = self.get(baseline), self.get(ours)
        value = b / o if o > 0 else (math.inf if b > 0 else math.nan)
        self.add(key, round(value, 1) if math.isfinite(value) else value, source)

    def missing(self, required: Iterable[str] = REQUIRED) -> list[str]:
        return [k for k in required if k not in self.items or _bad(self.items[k].value)]

    def table(self) -> str:
        lines = [f"{'figure':<42} {'value':>12} {'target':>10}  {'':4} source  note"]
        for fig in self.items.values():
            target = TARGETS.get(fig.key)
            mark, goal = "", ""
            if target is not None:
                limit, better = target
                goal = f"{'<=' if better == 'low' else '>='} {limit:g}"
                v = float(fig.value)
                ok = v <= limit if better == "low" else v >= limit
                mark = "ok" if ok and not math.isnan(v) else "MISS"
            lines.append(
                f"{fig.key:<42} {_fmt(fig.value):>12} {goal:>10}  {mark:4} {fig.source:<6}  "
                f"{fig.note}"
            )
        return "\n".join(lines)

    def json_line(self) -> str:
        data = {k: _json_value(f.value) for k, f in self.items.items()}
        data["sources"] = {k: f.source for k, f in self.items.items()}
        return json.dumps(data, sort_keys=False)


def _bad(value: float | int) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _fmt(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "n/a"
    return f"{value:,.1f}" if abs(value) < 1e6 else f"{value:.3g}"


def _json_value(value: float | int) -> float | int | str | None:
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf"
    return value
