"""`fleet doctor`: check this machine and every configured host, and say what to fix.

    checks = await doctor(config)     # list[Check]: ok / warn / fail, with a fix for the rest

Local: python, tmux, git, the ssh client, the terminal (TERM, colours, size, locale), the
config and the state directory. Each host: reachable (and why not), host key, login, python3 /
tmux / git present and their versions, fleet's helper answering, disk free in the home.
A host is probed with one fixed command first, so a missing tool is named (with its version
for the others) even when the helper cannot be installed there.
"""

from __future__ import annotations

import asyncio
import json
import locale
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from fleet import __version__
from fleet.cli import doctor_tmux
from fleet.cli.findings import FAIL, OK, WARN, Check
from fleet.core.config import Config, ConfigError, load_config, parse_target
from fleet.core.errors import (
    AuthFailed,
    FleetError,
    HostKeyError,
    HostSetupError,
    HostUnreachable,
)
from fleet.core.paths import config_path, ensure_state_dir
from fleet.core.remote.probe import REQUIRED_TOOLS, HostProbe, HostReport, version_numbers
from fleet.core.supervisor import Supervisor
from fleet.core.textsafe import inert
from fleet.core.workspaces import provision, with_workspaces
from fleet.presentation import plural, size

MIN_TERMINAL = (80, 24)
DISK_WARN = 1024**3  # bytes free in the home below which a host gets a warning
DISK_FAIL = 100 * 1024**2
PROBE_TIMEOUT = 30.0


async def doctor(config: Config, repair: bool = False) -> list[Check]:
    """Every check, local first, then each configured host (checked concurrently); with
    `repair`, a host's tmux server is repaired first where that is safe (doctor_tmux.py)."""
    checks = await asyncio.to_thread(local_checks)
    checks += config_checks(config)
    checks += await engine_checks(config)
    checks += await host_checks(config, repair)
    return checks


async def engine_checks(config: Config) -> list[Check]:
    """Whether the engine of each pool answers, on this machine or on the host it names."""
    checks = []
    sup = Supervisor(config) if any(p.host for p in config.pools.values()) else None
    try:
        for pool in config.pools.values():
            name = f"pool {pool.name}"
            on = f" on host {pool.host}" if pool.host else ""
            try:
                engine = sup.pool_engine(pool) if sup is not None else provision.engine_for(pool)
                version = await engine.version()
            except FleetError as exc:
                fix = f"install {pool.engine}{on}, or fix what it says"
                checks.append(Check(name, FAIL, str(exc), fix))
                continue
            answers = f"{pool.engine} {version}{on} answers; image {pool.image}"
            checks.append(Check(name, OK, answers))
    finally:
        if sup is not None:
            await sup.close()
    return checks


# -- this machine --------------------------------------------------------------------------


def _version(argv: list[str]) -> str:
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    lines = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
    return lines[0] if lines else ""


def local_checks(env: Mapping[str, str] = os.environ, stream: TextIO | None = None) -> list[Check]:
    stream = stream if stream is not None else sys.stdout
    checks = [Check("fleet", OK, f"fleet {__version__}, Python {platform.python_version()}")]
    tools = (
        ("tmux", ["tmux", "-V"], "`fleet demo` runs its hosts on this machine with it"),
        ("git", ["git", "--version"], "`fleet land` and `fleet demo` use it"),
        ("ssh", ["ssh", "-V"], "`fleet attach` and `fleet land` use the OpenSSH client"),
    )
    for name, argv, why in tools:
        if shutil.which(argv[0]) is None:
            package = "openssh-client" if name == "ssh" else name
            checks.append(
                Check(
                    name,
                    WARN,
                    f"{argv[0]} is not installed here (fleet needs it on the hosts; {why})",
                    f"install it: apt-get install {package} (or brew install {name}, dnf ...)",
                )
            )
        else:
            checks.append(Check(name, OK, _version(argv) or f"{argv[0]} found"))
    checks += terminal_checks(env, stream)
    return checks


def terminal_checks(env: Mapping[str, str], stream: TextIO) -> list[Check]:
    term = env.get("TERM", "")
    try:
        tty = stream.isatty()
    except (ValueError, OSError):
        tty = False
    checks = [_terminal_check(term, tty)]
    checks += _colour_checks(env, term)
    if tty:
        checks += _size_checks(stream)
    checks.append(_locale_check(env))
    return checks


def _terminal_check(term: str, tty: bool) -> Check:
    if not tty:
        return Check(
            "terminal",
            WARN,
            f"output is not a terminal (TERM={term or 'unset'}): the TUI needs one",
            "run `fleet` itself in a terminal; this is fine for `fleet doctor --json`",
        )
    if not term or term == "dumb":
        return Check(
            "terminal",
            FAIL,
            f"TERM is {term or 'unset'}: the TUI cannot draw",
            "run fleet in a terminal emulator, or set TERM=xterm-256color",
        )
    return Check("terminal", OK, f"TERM={term}")


def _colour_checks(env: Mapping[str, str], term: str) -> list[Check]:
    if env.get("NO_COLOR"):
        return [
            Check(
                "colours",
                WARN,
                "NO_COLOR is set: statuses show without colour",
                "unset NO_COLOR to see needs-input / failed in colour",
            )
        ]
    if env.get("COLORTERM", "").lower() in ("truecolor", "24bit"):
        return [Check("colours", OK, "truecolor (COLORTERM)")]
    if "256color" in term:
        return [Check("colours", OK, "256 colours")]
    if term and term != "dumb":
        return [
            Check(
                "colours",
                WARN,
                f"TERM={term} promises 8 colours: themes look washed out",
                "use TERM=xterm-256color (or a terminal that sets COLORTERM=truecolor)",
            )
        ]
    return []


def _size_checks(stream: TextIO) -> list[Check]:
    try:
        window = os.get_terminal_size(stream.fileno())
    except (OSError, ValueError):
        return []
    cols, rows = window.columns, window.lines
    if cols < MIN_TERMINAL[0] or rows < MIN_TERMINAL[1]:
        return [
            Check(
                "size",
                WARN,
                f"{cols}x{rows}: smaller than {MIN_TERMINAL[0]}x{MIN_TERMINAL[1]}",
                "make the window larger (the grid and the diff panel need room)",
            )
        ]
    return [Check("size", OK, f"{cols}x{rows}")]


def _locale_check(env: Mapping[str, str]) -> Check:
    encoding = env.get("LC_ALL") or env.get("LC_CTYPE") or env.get("LANG") or locale.getencoding()
    if "utf-8" in encoding.lower() or "utf8" in encoding.lower():
        return Check("locale", OK, encoding)
    return Check(
        "locale",
        WARN,
        f"{encoding or 'no locale set'}: not UTF-8, so borders and symbols may break",
        "set LANG=C.UTF-8 (or en_US.UTF-8)",
    )


def config_checks(config: Config) -> list[Check]:
    checks = []
    if not config.exists:
        checks.append(
            Check(
                "config",
                WARN,
                f"no config file at {config.path}: fleet starts with no hosts",
                'create it with a host: [hosts.NAME] ssh = "alias" (see examples/fleet.toml); '
                "or try `fleet demo`",
            )
        )
    elif not config.hosts:
        checks.append(
            Check(
                "config",
                WARN,
                f"{config.path}: no hosts configured",
                'add one: [hosts.NAME] with ssh = "alias" or "user@host:port"',
            )
        )
    else:
        checks.append(Check("config", OK, f"{config.path}: {plural(len(config.hosts), 'host')}"))
    checks += keys_checks(config)
    ssh_config = config.ssh.config_file
    if ssh_config is None:
        checks.append(Check("ssh config", OK, "none: hosts are reached as written"))
    elif ssh_config.is_file():
        checks.append(Check("ssh config", OK, str(ssh_config)))
    else:
        checks.append(
            Check(
                "ssh config",
                FAIL,
                f"{ssh_config} is gone",
                "point [ssh] config at an existing file, or remove the setting",
            )
        )
    try:
        state = ensure_state_dir()
        probe = state / ".doctor-write-test"
        probe.write_text("ok")
        probe.unlink()
        checks.append(Check("state", OK, str(state)))
        checks += permission_checks(config, state)
    except OSError as exc:
        checks.append(
            Check(
                "state",
                FAIL,
                f"cannot write fleet's state directory: {exc.strerror or exc}",
                "set FLEET_HOME to a writable directory",
            )
        )
    return checks


def keys_checks(config: Config) -> list[Check]:
    """[keys]: every entry names an action and a key no other action has (the TUI does not
    start otherwise). The check is the TUI's own, which knows Textual's key names."""
    from fleet.ui.bindings import keymap_from_config

    keymap, problems = keymap_from_config(config)
    if not problems:
        shown = f"{plural(len(keymap), 'key')} remapped" if keymap else "the default keys"
        return [Check("keys", OK, shown)]
    fix = (
        "correct or remove the entry in [keys]; `?` in the TUI lists every action and its "
        "keys (the TUI does not start until then)"
    )
    return [Check("keys", FAIL, str(problem), fix) for problem in problems]


def permission_checks(config: Config, state: Path) -> list[Check]:
    """fleet's own files hold what agents printed and what the person decided, and the config
    may hold hook tokens: none of them for other users' eyes (nor writable by them)."""
    loose: list[str] = []
    candidates = [state, *(state / name for name in ("fleet.db", "fleet.db-wal", "fleet.db-shm"))]
    candidates += sorted(state.glob("fleet.log*"))
    for path in candidates:
        try:
            mode = path.stat().st_mode & 0o777
        except OSError:
            continue
        if mode & 0o077:
            loose.append(f"{path} is {oct(mode)[2:]}")
    checks = []
    if loose:
        checks.append(
            Check(
                "private files",
                WARN,
                "; ".join(loose),
                f"chmod 700 {state} && chmod 600 {state}/fleet.*  (fleet creates them so)",
            )
        )
    else:
        checks.append(Check("private files", OK, f"{state} is readable by you only"))
    if config.exists:
        try:
            mode = config.path.stat().st_mode & 0o777
        except OSError:
            mode = 0
        if mode & 0o022:
            checks.append(
                Check(
                    "config file",
                    FAIL,
                    f"{config.path} is {oct(mode)[2:]}: others can change the commands it runs",
                    f"chmod 600 {config.path}",
                )
            )
        elif mode & 0o044:
            checks.append(
                Check(
                    "config file",
                    WARN,
                    f"{config.path} is {oct(mode)[2:]}: others can read it (hook tokens?)",
                    f"chmod 600 {config.path}",
                )
            )
    return checks


# -- the hosts -----------------------------------------------------------------------------


async def host_checks(config: Config, repair: bool = False) -> list[Check]:
    if not config.hosts:
        return []
    sup = Supervisor(config)
    try:
        per_host = await asyncio.gather(
            *(_guarded(sup, name, repair) for name in config.hosts), return_exceptions=False
        )
    finally:
        await sup.close()
    return [check for checks in per_host for check in checks]


async def _guarded(sup: Supervisor, name: str, repair: bool) -> list[Check]:
    try:
        return await check_host(sup, name, repair)
    except Exception as exc:  # a bug here must not hide the other hosts' findings
        return [Check("reachable", FAIL, f"doctor failed: {type(exc).__name__}: {exc}")]


def _ssh_command(config: Config, target: str) -> str:
    own = next((h.ssh_config for h in config.hosts.values() if h.ssh == target), None)
    ssh_config = own or config.ssh.config_file
    if ssh_config is not None:
        return f"ssh -F {ssh_config} {target}"
    return f"ssh {target}"


async def check_host(sup: Supervisor, name: str, repair: bool = False) -> list[Check]:
    report = await sup.examine(name, timeout=PROBE_TIMEOUT)
    ssh_cmd = _ssh_command(sup.config, report.target)
    checks = _link_checks(report, ssh_cmd)
    if report.failed_at == "probe":
        reason = report.error.reason if report.error is not None else "no answer"
        checks.append(
            Check("tools", FAIL, f"could not run a command: {reason}", f"check `{ssh_cmd} true`")
        )
    elif report.probe is not None:
        checks += _tool_checks(report.probe, name)
        checks.append(_helper_check(report, ssh_cmd))
        if report.ok:
            hello = report.hello.get("tmux_server")
            checks += await doctor_tmux.checks(sup, name, hello, ssh_cmd, repair)
    return [replace(c, host=name) for c in checks]


def _link_checks(report: HostReport, ssh_cmd: str) -> list[Check]:
    """Reachable, host key, login: as far as the connection got."""
    name, target, error = report.host, report.target, report.error
    reached = Check("reachable", OK, f"{target} answers")
    key_ok = Check("host key", OK, "verified against known_hosts")
    if report.failed_at != "connect" or error is None:
        user, host, _ = parse_target(target)
        where = report.peer or host
        detail = f"{target} ({where}) in {report.connect_seconds:.2f} s"
        login = f"as {report.user or user or 'default user'}"
        return [replace(reached, detail=detail), key_ok, Check("login", OK, login)]
    if isinstance(error, HostKeyError):
        fix = (
            f"check the fingerprint with the host's owner, then trust it: `fleet trust {name}` "
            f"(or answer yes to `{ssh_cmd}`); a CHANGED key: find out why first"
        )
        return [reached, Check("host key", FAIL, error.reason, fix)]
    if isinstance(error, AuthFailed):
        fix = f"make `{ssh_cmd} true` work without a password (a key in ssh-agent or IdentityFile)"
        return [reached, key_ok, Check("login", FAIL, error.reason, fix)]
    fix = (
        f"check that `{ssh_cmd} true` works from here: host name and port (HostName / "
        "Port in the ssh config), network or VPN, and that sshd runs on the host"
    )
    return [Check("reachable", FAIL, error.reason, fix)]


def _tool_checks(probe: HostProbe, name: str) -> list[Check]:
    """python3, tmux, git (present, and a version fleet works with), and the disk free."""
    checks = []
    for tool in REQUIRED_TOOLS:
        if tool in probe.missing:
            fix = (
                f"install it on {name} (e.g. apt-get install {tool}); if it is installed, put "
                "its directory on PATH where non-interactive shells see it (~/.bashrc before "
                "any early return, ~/.zshenv)"
            )
            checks.append(
                Check(tool, FAIL, f"{tool} is not on the PATH of commands run over ssh", fix)
            )
        else:
            status, detail, fix = _judge_version(tool, probe.versions.get(tool, ""))
            checks.append(Check(tool, status, detail, fix))
    free = probe.disk_free
    if free is not None:
        shown = f"{size(free)} free in the home"
        if free < DISK_FAIL:
            checks.append(Check("disk", FAIL, shown, f"free some space on {name}"))
        elif free < DISK_WARN:
            checks.append(Check("disk", WARN, shown, "worktrees and logs need room"))
        else:
            checks.append(Check("disk", OK, shown))
    return checks


def _helper_check(report: HostReport, ssh_cmd: str) -> Check:
    probe, error = report.probe, report.error
    if probe is not None and probe.missing:
        lacks = ", ".join(probe.missing)
        return Check("helper", FAIL, f"not installed: the host lacks {lacks}", "see above")
    if isinstance(error, HostSetupError):
        return Check("helper", FAIL, error.reason, "see above")
    if isinstance(error, HostUnreachable):
        return Check("helper", FAIL, error.reason, f"check `{ssh_cmd} true`")
    if error is not None:
        return Check("helper", FAIL, error.reason, "run with -v and look in fleet's log; report it")
    hello = report.hello
    return Check("helper", OK, f"helper {hello.get('helper')} (protocol {hello.get('protocol')})")


def _judge_version(tool: str, text: str) -> tuple[str, str, str]:
    found = version_numbers(text)
    shown = text or f"{tool} (version unknown)"
    if not found:
        return OK, shown, ""
    if tool == "python3" and found[:2] < (3, 8):
        return FAIL, shown, "fleet's helper needs Python 3.8 or newer on the host"
    if tool == "git" and found[:2] < (2, 5):
        return FAIL, shown, "fleet needs git 2.5 or newer (git worktree)"
    if tool == "git" and found[:2] < (2, 20):
        return WARN, shown, "git older than 2.20 is untested; upgrade if reviews misbehave"
    if tool == "tmux" and found[:2] < (2, 6):
        return FAIL, shown, "fleet needs tmux 2.6 or newer"
    if tool == "tmux" and found[:1] < (3,):
        return WARN, shown, "tmux older than 3.0 is untested; upgrade if screens misbehave"
    return OK, shown, ""


# -- `fleet doctor` ------------------------------------------------------------------------


def render(checks: list[Check], out: TextIO) -> None:
    groups: dict[str, list[Check]] = {}
    for check in checks:
        groups.setdefault(check.where, []).append(check)
    width = max((len(c.name) for c in checks), default=8)
    for where, items in groups.items():
        out.write(("this machine" if where == "local" else where) + "\n")
        for c in items:
            out.write(inert(f"  {c.status:<4}  {c.name:<{width}}  {c.detail}") + "\n")
            if c.fix and c.status != OK:
                out.write(inert(f"        {'':<{width}}  fix: {c.fix}") + "\n")
    fails = sum(1 for c in checks if c.status == FAIL)
    warns = sum(1 for c in checks if c.status == WARN)
    if fails or warns:
        out.write(f"{fails} failed, {plural(warns, 'warning')}: see the fix lines above\n")
    else:
        out.write("all good\n")


def main(
    explicit: str | None, as_json: bool = False, verbose: bool = False, repair: bool = False
) -> int:
    """`fleet doctor [--json] [--repair]`: exit 1 when a check fails."""
    from fleet.core.logs import setup_logging

    try:
        config: Config | None = with_workspaces(load_config(explicit))
        error = None
    except ConfigError as exc:
        config, error = None, exc
    setup_logging(verbose=verbose)
    if config is None:
        path = error.path if error is not None else config_path(explicit)
        checks = local_checks()
        checks.append(
            Check(
                "config",
                FAIL,
                str(error),
                f"fix {Path(path).name} where the message points; hosts are checked once it loads",
            )
        )
    else:
        checks = asyncio.run(doctor(config, repair))
    if as_json:
        sys.stdout.write(json.dumps([c.to_json() for c in checks], indent=2) + "\n")
    else:
        render(checks, sys.stdout)
    return 1 if any(c.status == FAIL for c in checks) else 0
