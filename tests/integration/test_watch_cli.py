"""`fleet watch`, the headless supervisor: prints what happens on the hosts and runs hooks."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.integration.fleetrun import FleetCLI, wait_for
from tests.integration.hosts import LoopbackFleet


def test_watch_prints_changes_and_runs_hooks(fresh_hosts: LoopbackFleet, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.touch(mode=0o666)
    hook = f"import sys; open({str(events)!r}, 'a').write(sys.stdin.read())"
    fleet = FleetCLI(
        fresh_hosts,
        extra_toml=(
            f'\n[hooks]\ntimeout = 5\n"*" = ["{sys.executable}", "-c", {json.dumps(hook)}]\n'
        ),
    )
    watch = subprocess.Popen(
        [sys.executable, "-m", "fleet", "watch"],
        env=fleet.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(iter(watch.stdout.readline, "")), daemon=True
    )
    reader.start()
    try:
        wait_for(
            lambda: sum("connected" in line for line in lines) == 2, what="both hosts connected"
        )
        fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "hooked")
        wait_for(
            lambda: any("alpha/hooked idle" in line for line in lines),
            what="the idle status printed by fleet watch",
        )
        fleet.ok("send", "alpha/hooked", "exit 2")
        wait_for(
            lambda: any("alpha/hooked failed (2)" in line for line in lines),
            what="the failure printed by fleet watch",
        )

        def received() -> list[dict[str, object]]:
            return [json.loads(line) for line in events.read_text().splitlines() if line]

        got = wait_for(
            lambda: (r := received()) and {"idle", "failed"} <= {e["event"] for e in r} and r,
            what="the hooks to receive idle and failed",
        )
        failed = next(e for e in got if e["event"] == "failed")
        assert failed["ref"] == "alpha/hooked" and failed["host"] == "alpha"
        assert failed["detail"]["exit_code"] == 2
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(10)
    assert watch.returncode in (0, 130), watch.stderr.read()
