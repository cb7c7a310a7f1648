"""Install the pinned agent CLIs of the real-agents tier, idempotently.

    python tests/realagents/install.py            # every CLI
    python tests/realagents/install.py claude aider

Each goes into its own prefix /opt/fleet-realagents/<name>-<version>/ (see clis.py); a CLI
whose executable is already there is skipped, so a second run costs nothing. npm packages come
from the npm registry (npm's own cache makes a reinstall cheap), aider from PyPI into a venv made
from the system python3.11 (pyenv's lives under /root, which the hosts' users cannot read).
Needs root (it writes /opt). Exits non-zero with a one-line reason when something is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.realagents.clis import CLIS, ROOT, Cli

PYTHON = "/usr/bin/python3.11"


class InstallError(Exception):
    pass


def _run(argv: list[str], **kw: object) -> None:
    print("  $ " + " ".join(argv), flush=True)
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, text=True, capture_output=True, **kw)  # type: ignore[call-overload]
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise InstallError(f"{argv[0]} exited {proc.returncode}:\n{tail}")


def _npm(cli: Cli, tmp: Path) -> None:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise InstallError("npm/node not found (apt-get install -y nodejs npm, node >= 20)")
    tmp.mkdir(parents=True)
    # A package.json of its own keeps npm from walking up into some other project.
    (tmp / "package.json").write_text('{"name": "fleet-realagents", "private": true}\n')
    _run(
        [
            npm,
            "install",
            "--prefix",
            str(tmp),
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--loglevel=error",
            cli.spec,
        ]
    )


def _pip(cli: Cli, tmp: Path) -> None:
    if not os.access(PYTHON, os.X_OK):
        raise InstallError(f"{PYTHON} not found (apt-get install -y python3.11 python3.11-venv)")
    _run([PYTHON, "-m", "venv", str(tmp)])
    _run([str(tmp / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", cli.spec])


def install(cli: Cli) -> str:
    if cli.installed():
        return "already installed"
    started = time.monotonic()
    # Built in a side directory and renamed into place, so a half-done install (killed, out of
    # disk) never looks installed. A venv records its own path: aider's is built in place.
    final = cli.prefix
    tmp = final if cli.kind == "pip" else final.with_name(final.name + ".partial")
    for leftover in {tmp, final}:
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        (_npm if cli.kind == "npm" else _pip)(cli, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if tmp != final:
        tmp.rename(final)
    subprocess.run(["chmod", "-R", "a+rX", str(final)], check=True)
    if not cli.installed():
        raise InstallError(f"installed, but {cli.path} is not there")
    return f"installed in {time.monotonic() - started:.0f} s"


def main(argv: list[str]) -> int:
    names = argv or list(CLIS)
    unknown = [n for n in names if n not in CLIS]
    if unknown:
        print(f"unknown CLI {unknown[0]!r}; known: {', '.join(CLIS)}", file=sys.stderr)
        return 2
    try:
        ROOT.mkdir(parents=True, exist_ok=True)
        ROOT.chmod(0o755)
    except OSError as exc:
        print(f"cannot create {ROOT}: {exc} (run as root)", file=sys.stderr)
        return 1
    failed = 0
    for name in names:
        cli = CLIS[name]
        print(f"{cli.name} {cli.version} ({cli.kind} {cli.package}) -> {cli.prefix}", flush=True)
        try:
            print(f"  {install(cli)}", flush=True)
        except (InstallError, OSError) as exc:
            failed += 1
            print(f"  FAILED: {exc}", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
