"""The host helper as it travels: every module of fleet/core/remote/hostside is Python 3.8
and imports only the standard library and its siblings, and the bundle built from the package
holds every module and runs as `python3 helper.pyz` (its imports relative, as in the zip)."""

from __future__ import annotations

import ast
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from fleet.core.remote import bundle as bundle_module
from fleet.core.remote.hostside import protocol

HOSTSIDE = Path(protocol.__file__).parent
MODULES = sorted(p.name for p in HOSTSIDE.glob("*.py"))
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


@pytest.mark.parametrize("name", MODULES)
def test_every_module_runs_on_old_pythons_without_fleet(name: str) -> None:
    tree = ast.parse((HOSTSIDE / name).read_text(encoding="utf-8"), feature_version=(3, 8))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert all(alias.name.split(".")[0] in STDLIB for alias in node.names), name
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                assert (node.module or "").split(".")[0] in STDLIB, name
            else:  # a sibling, never a parent package (absent on the host)
                assert node.level == 1, name
        elif isinstance(node, ast.Match):
            raise AssertionError(f"{name}: match needs Python 3.10")


def test_the_bundle_holds_every_module_and_runs(tmp_path: Path) -> None:
    made = bundle_module.bundle.__wrapped__()
    with zipfile.ZipFile(io.BytesIO(made.data)) as zf:
        names = set(zf.namelist())
    assert {f"{bundle_module.PACKAGE}/{name}" for name in MODULES} <= names
    helper = tmp_path / "helper.pyz"
    helper.write_bytes(made.data)
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    # -I: nothing of this checkout (or of fleet installed here) can be imported by accident.
    proc = subprocess.run(
        [sys.executable, "-I", str(helper)],
        input=json.dumps({"op": "hello", "args": {}}).encode() + b"\n",
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    answer = json.loads(proc.stdout)
    assert answer["ok"], (answer, proc.stderr)
    assert answer["result"]["protocol"] == protocol.VERSION
