"""fleet/core never imports Textual: checked statically (ast) and dynamically (a fresh
interpreter imports every fleet.core module, then looks at sys.modules)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import fleet.core

CORE = Path(fleet.core.__file__).resolve().parent
ROOT = CORE.parent.parent
FORBIDDEN = "textual"


def _forbidden(name: str | None) -> bool:
    return name is not None and (name == FORBIDDEN or name.startswith(FORBIDDEN + "."))


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        names: list[str | None] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (isinstance(node.func, ast.Name) and node.func.id == "__import__")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
        ):
            names = [node.args[0].value]
        line = getattr(node, "lineno", 0)
        found += [f"{path.relative_to(ROOT)}:{line}: {n}" for n in names if _forbidden(n)]
    return found


def test_core_sources_never_import_textual() -> None:
    files = sorted(CORE.rglob("*.py"))
    assert CORE / "__init__.py" in files
    bad = [v for f in files for v in _violations(f)]
    assert not bad, "fleet/core must not import textual:\n" + "\n".join(bad)


_PROBE = r"""
import importlib, json, pkgutil, sys
import fleet.core
imported, errors = [], {}
def onerror(name):
    errors[name] = repr(sys.exc_info()[1])
for info in pkgutil.walk_packages(fleet.core.__path__, "fleet.core.", onerror=onerror):
    if info.name.rsplit(".", 1)[-1] == "__main__":
        continue  # a script entry point: importing it runs it (the static check covers it)
    try:
        importlib.import_module(info.name)
        imported.append(info.name)
    except BaseException as e:
        errors[info.name] = repr(e)
loaded = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))
print(json.dumps({"imported": imported, "errors": errors, "textual": loaded}))
"""


def test_importing_all_of_core_does_not_load_textual() -> None:
    # A fresh interpreter: this test process may have imported textual for other tests.
    # stdin is closed so a host-side module that wrongly reads stdin on import cannot hang.
    p = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert "fleet.core.models" in out["imported"], out  # the walk really found the modules
    assert not out["errors"], f"fleet.core modules fail to import: {out['errors']}"
    assert not out["textual"], f"importing fleet.core loaded {out['textual']}"
