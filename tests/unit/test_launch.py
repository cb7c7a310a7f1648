"""`fleet` with no words goes to the TUI without loading the command line's modules: the
app loads SSH (asyncssh, ~0.2 s of imports) only as it mounts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROAD = """
import argparse, sys
from fleet import launch
from fleet.ui import app
launch.configure(argparse.Namespace(config=None, verbose=False, command=None))
print(sorted(m for m in sys.modules if m.split(".")[0] in ("asyncssh", "fleet") and (
    m.startswith("asyncssh") or m.startswith("fleet.core.supervisor")
    or m == "fleet.cli" or m == "fleet.core.wiring")))
"""


def test_the_tuis_road_loads_no_command_and_no_ssh_before_the_app_mounts(tmp_path: Path) -> None:
    config = tmp_path / "fleet.toml"
    config.write_text('[hosts.devbox]\nssh = "devbox"\n')
    env = {"FLEET_CONFIG": str(config), "FLEET_HOME": str(tmp_path / "state"), "PATH": "/usr/bin"}
    out = subprocess.run(
        [sys.executable, "-c", ROAD], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout
