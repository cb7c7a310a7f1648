"""`fleet` with no words goes to the TUI without loading SSH: the cached fleet is painted
before asyncssh (~0.2 s of imports) is even imported, and the keys that need a host do
nothing until the supervisor is up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fleet.core.config import load_config
from fleet.ui.app import FleetApp

ROAD = """
import argparse, sys
from fleet import launch
from fleet.ui import app
launch.configure(argparse.Namespace(config=None, verbose=False, command=None))
print(sorted(m for m in sys.modules if m.split(".")[0] in ("asyncssh", "fleet") and (
    m.startswith("asyncssh") or m.startswith("fleet.core.supervisor")
    or m == "fleet.cli" or m == "fleet.core.wiring")))
"""


def test_the_tuis_road_loads_no_ssh_and_no_command(tmp_path: Path) -> None:
    config = tmp_path / "fleet.toml"
    config.write_text('[hosts.devbox]\nssh = "devbox"\n')
    env = {"FLEET_CONFIG": str(config), "FLEET_HOME": str(tmp_path / "state"), "PATH": "/usr/bin"}
    out = subprocess.run(
        [sys.executable, "-c", ROAD], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout


def test_keys_that_need_a_host_wait_for_the_supervisor(tmp_path: Path) -> None:
    config = tmp_path / "fleet.toml"
    config.write_text('[hosts.devbox]\nssh = "devbox"\n')
    app = FleetApp(load_config(config))
    assert app.sup is None
    assert app.check_action("move", (0, 1)) and app.check_action("quit", ())
    assert not app.check_action("open_diff", ()) and not app.check_action("allow", ())
    app.sup = object()  # type: ignore[assignment]
    assert app.check_action("open_diff", ())
