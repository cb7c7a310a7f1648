"""Security defaults, each against real sshd hosts and the real `fleet` CLI in a process.

- `fleet trust HOST`: shows the key, records it only on explicit confirmation (a terminal
  answer or --yes), never replaces a changed key, and records it where ssh and fleet both look.
- No X11 forwarding even when the ssh config asks for it.
- No password or passphrase prompt, with or without a terminal: a clear error, fast.
- fleet's local files are private even under umask 000.
- No secret from a hook command or an agent profile reaches fleet's database or its log.

(Host keys refused, agent forwarding and the host-side file modes are in
tests/integration/test_security.py.)
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shlex
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.fleetrun import FleetCLI, received, wait_for
from tests.integration.hosts import LoopbackFleet
from tests.integration.test_security import (
    PROMPTS,
    _stranger_key,
    agent_environment,
    fingerprint,
    set_ssh_option,
    ssh,
)

# -- running fleet on a terminal -------------------------------------------------------------


@dataclass
class Tty:
    code: int | None  # None: it was still running at the deadline (then killed)
    text: str
    took: float


def on_a_terminal(
    args: list[str],
    env: Mapping[str, str],
    answers: Mapping[str, str] | None = None,
    timeout: float = 30,
) -> Tty:
    """Run `fleet ARGS` with a pty as its controlling terminal and stdin/stdout/stderr: where a
    prompt would show and wait. `answers` maps a regex of the screen to what is typed once."""
    master, slave = os.openpty()

    def take_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleet", *args],
        env=dict(env),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=take_terminal,  # a controlling terminal, where a prompt would wait
    )
    os.close(slave)
    pending = dict(answers or {})
    out = b""
    try:
        while time.monotonic() - start < timeout:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: every process holding the terminal is gone
                    break
                if not chunk:
                    break
                out += chunk
                text = out.decode(errors="replace")
                for pattern, reply in list(pending.items()):
                    if re.search(pattern, text):
                        os.write(master, reply.encode())
                        del pending[pattern]
            elif proc.poll() is not None:
                break
        try:  # the terminal closes a moment before the process can be reaped
            code: int | None = proc.wait(timeout=max(1.0, timeout - (time.monotonic() - start)))
        except subprocess.TimeoutExpired:
            code = None
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        return Tty(
            code, out.decode(errors="replace").replace("\r\n", "\n"), time.monotonic() - start
        )
    finally:
        os.close(master)


def known_lines(lf: LoopbackFleet) -> list[str]:
    return [line for line in lf.known_hosts.read_text().splitlines() if line.strip()]


@pytest.fixture
def fleet(fresh_hosts: LoopbackFleet) -> FleetCLI:
    return FleetCLI(fresh_hosts)


def untrust(lf: LoopbackFleet, host: str) -> None:
    lf.known_hosts.write_text("\n".join(lf.known_hosts_lines(exclude=[host])) + "\n")


SSH_STRICT = ("ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes")


def openssh_strict(lf: LoopbackFleet, host: str) -> subprocess.CompletedProcess[str]:
    """Plain OpenSSH, refusing any key it does not already trust."""
    return subprocess.run(
        [*SSH_STRICT, "-F", str(lf.ssh_config), host, "true"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
    )


# -- fleet trust -----------------------------------------------------------------------------


def test_trust_with_no_terminal_and_no_yes_refuses_and_writes_nothing(fleet: FleetCLI) -> None:
    lf = fleet.lf
    h = lf["alpha"]
    untrust(lf, "alpha")
    before = lf.known_hosts.read_bytes()
    r = fleet("trust", "alpha", input="yes\n")  # piped "yes" is not a confirmation
    assert r.code == 2, r
    assert fingerprint(h) in r.out and "ssh-ed25519" in r.out
    assert f"127.0.0.1 port {h.port}" in r.out
    assert "no terminal to ask on" in r.err and "fleet trust alpha --yes" in r.err
    assert "Traceback" not in r.err
    assert lf.known_hosts.read_bytes() == before
    hosts = {x["name"]: x for x in fleet("hosts", "--json").json()}
    assert hosts["alpha"]["reachable"] is False
    assert "`fleet trust alpha`" in str(hosts["alpha"]["reason"])


def test_trust_yes_records_the_key_where_ssh_and_fleet_look(fleet: FleetCLI) -> None:
    lf = fleet.lf
    h = lf["alpha"]
    untrust(lf, "alpha")
    assert openssh_strict(lf, "alpha").returncode == 255  # precondition: nobody trusts it
    r = fleet.ok("trust", "alpha", "--yes")
    assert fingerprint(h) in r.out and "ssh-ed25519" in r.out
    assert f"[127.0.0.1]:{h.port} {h.host_key_line}" in known_lines(lf)
    assert f"Trusted: added [127.0.0.1]:{h.port} to {lf.known_hosts}" in r.out
    # Both fleet and OpenSSH now accept the host; beta was never touched.
    fleet.ok("hosts")
    assert openssh_strict(lf, "alpha").returncode == 0
    # Trusting again changes nothing.
    before = lf.known_hosts.read_bytes()
    again = fleet.ok("trust", "alpha")  # no --yes needed: nothing to confirm
    assert "Already trusted" in again.out
    assert lf.known_hosts.read_bytes() == before


def test_trust_asks_on_a_terminal_and_records_only_on_yes(fleet: FleetCLI) -> None:
    lf = fleet.lf
    h = lf["alpha"]
    untrust(lf, "alpha")
    before = lf.known_hosts.read_bytes()
    no = on_a_terminal(["trust", "alpha"], fleet.env, {r"\[y/N\] ": "n\r"})
    assert no.code == 1, no.text
    assert fingerprint(h) in no.text and "nothing was written" in no.text
    assert lf.known_hosts.read_bytes() == before
    yes = on_a_terminal(["trust", "alpha"], fleet.env, {r"\[y/N\] ": "y\r"})
    assert yes.code == 0, yes.text
    assert f"Trust it and add it to {lf.known_hosts}? [y/N]" in yes.text
    assert f"[127.0.0.1]:{h.port} {h.host_key_line}" in known_lines(lf)
    fleet.ok("hosts")


def test_trust_never_replaces_a_changed_key(fleet: FleetCLI) -> None:
    lf = fleet.lf
    h = lf["alpha"]
    lf.restart_host("alpha", new_host_key=True)  # known_hosts keeps the old key
    before = lf.known_hosts.read_bytes()
    r = fleet("trust", "alpha", "--yes")
    assert r.code == 1, r
    assert fingerprint(h) in r.out
    assert "host key CHANGED" in r.err and "never replaces" in r.err
    m = re.search(r"`(ssh-keygen -R [^`]+)`", r.err)
    assert m, r.err
    assert lf.known_hosts.read_bytes() == before
    assert fleet("hosts").code == 1
    # The command it names does remove exactly the old key; then trust works.
    subprocess.run(shlex.split(m.group(1)), check=True, capture_output=True)
    assert f"[127.0.0.1]:{lf['beta'].port} {lf['beta'].host_key_line}" in known_lines(lf)
    fleet.ok("trust", "alpha", "--yes")
    fleet.ok("hosts")


def test_trust_creates_a_private_known_hosts_file(fleet: FleetCLI) -> None:
    lf = fleet.lf
    fresh = lf.dir / "new-ssh-dir" / "known_hosts"
    set_ssh_option(lf, "alpha", "UserKnownHostsFile", str(fresh))
    old_umask = os.umask(0)
    try:
        fleet.ok("trust", "alpha", "--yes")
    finally:
        os.umask(old_umask)
    assert fresh.stat().st_mode & 0o777 == 0o600
    assert fresh.parent.stat().st_mode & 0o777 == 0o700
    fleet.ok("hosts")


def test_trust_of_an_unknown_host_is_a_clear_error(fleet: FleetCLI) -> None:
    r = fleet("trust", "nosuch", "--yes")
    assert r.code == 2 and "unknown host 'nosuch'" in r.err and "alpha" in r.err, r
    assert "Traceback" not in r.err


# -- X11 -------------------------------------------------------------------------------------


@pytest.fixture
def x11_fleet(_integration_requirements: None) -> Iterator[LoopbackFleet]:
    if not Path("/usr/bin/xauth").exists():
        pytest.fail("X11 forwarding needs xauth on the host (apt-get install xauth)")
    with LoopbackFleet(names=["xhost"], sshd_options={"X11Forwarding": "yes"}) as lf:
        yield lf


def test_x11_is_never_forwarded_even_when_ssh_config_asks(x11_fleet: LoopbackFleet) -> None:
    lf = x11_fleet
    h = lf["xhost"]
    set_ssh_option(lf, "xhost", "ForwardX11", "yes")
    env = {**os.environ, "DISPLAY": ":0"}
    # Precondition: with this config, OpenSSH does forward X11 to this host.
    plain = ssh(lf, "xhost", 'echo "d=$DISPLAY"', env=env)
    assert re.search(r"d=\S*:1\d\.\d", plain.stdout), (plain.stdout, plain.stderr)

    fleet = FleetCLI(lf)
    fleet.env["DISPLAY"] = ":0"
    text = agent_environment(fleet, h, "x")
    assert "DISPLAY=" not in text
    assert "SSH_AUTH_SOCK" not in text


# -- no prompt for a password or a passphrase ------------------------------------------------


@pytest.fixture
def password_fleet(_integration_requirements: None) -> Iterator[LoopbackFleet]:
    options = {
        "PubkeyAuthentication": "no",
        "PasswordAuthentication": "yes",
        "KbdInteractiveAuthentication": "yes",
    }
    with LoopbackFleet(names=["pwhost"], sshd_options=options) as lf:
        yield lf


def no_agent(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in ("SSH_AUTH_SOCK", "SSH_AGENT_PID")}


def test_a_host_that_only_takes_passwords_fails_fast_without_prompting(
    password_fleet: LoopbackFleet,
) -> None:
    lf = password_fleet
    fleet = FleetCLI(lf)
    fleet.env = no_agent(fleet.env)
    # Precondition: the host offers password and keyboard-interactive logins, no keys.
    probe = subprocess.run(
        ["ssh", "-F", str(lf.ssh_config), "-o", "BatchMode=yes", "pwhost", "true"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
    )
    assert probe.returncode == 255 and "password" in probe.stderr, probe.stderr

    piped = subprocess.run(
        [sys.executable, "-m", "fleet", "hosts", "--json"],
        env=fleet.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert piped.returncode == 1, piped
    reason = str(json.loads(piped.stdout)[0]["reason"])
    assert "login refused" in reason and "keys only" in reason, reason
    assert not PROMPTS.search(piped.stdout + piped.stderr)

    tty = on_a_terminal(["new", "pwhost", "--repo", "~/repo", "--agent", "shell"], fleet.env)
    assert tty.code == 1, tty
    assert "fleet: pwhost: login refused" in tty.text
    assert not PROMPTS.search(tty.text), tty.text
    assert not (lf["pwhost"].home / ".fleet").exists()


def test_an_encrypted_key_without_an_agent_fails_on_a_terminal_without_prompting(
    fleet: FleetCLI,
) -> None:
    lf = fleet.lf
    key = _stranger_key(lf, passphrase="secret words")
    # The host would accept this key: only its passphrase stands in the way.
    lf.authorized_keys.write_text(lf.authorized_keys.read_text() + Path(f"{key}.pub").read_text())
    set_ssh_option(lf, "alpha", "IdentityFile", str(key))
    fleet.env = no_agent(fleet.env)
    tty = on_a_terminal(["hosts"], fleet.env)
    assert tty.code == 1, tty
    line = next(x for x in tty.text.splitlines() if x.startswith("alpha "))
    assert "login refused" in line or "cannot use the configured key" in line, tty.text
    assert re.search(r"^beta\s+beta\s+ok\b", tty.text, re.M), tty.text
    assert not PROMPTS.search(tty.text), tty.text
    assert tty.took < 30


# -- local files -----------------------------------------------------------------------------


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_local_state_is_private_even_with_umask_000(fleet: FleetCLI) -> None:
    lf = fleet.lf
    state = lf.state_dir
    state.chmod(0o755)  # as a person's FLEET_HOME might be
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "p", "go")
    watch = subprocess.Popen(
        [sys.executable, "-m", "fleet", "-v", "watch"],
        env=fleet.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        umask=0,
    )
    try:
        db = state / "fleet.db"
        wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
        wait_for(lambda: wal.exists() and shm.exists(), what="the store's WAL files")
        assert mode(state) == 0o700
        for path in (db, wal, shm, state / "fleet.log"):
            assert mode(path) == 0o600, f"{path} is {oct(mode(path))}"
        everything = [state, *state.rglob("*")]
        assert all(mode(p) & 0o077 == 0 for p in everything), [
            (str(p), oct(mode(p))) for p in everything
        ]
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(timeout=30)


# -- secrets ---------------------------------------------------------------------------------

HOOK_TOKEN = "hooktok-5f1c0d2e9a7b4c6e8d3f"
ENV_TOKEN = "envtok-a9b8c7d6e5f4a3b2c1d0"
API_KEY = "sk-ant-api03-0123456789abcdefghijklmnop"


def test_no_secret_reaches_the_database_or_the_log(fleet: FleetCLI) -> None:
    lf = fleet.lf
    recorder = lf.dir / "agents" / "recorder.py"
    hook_out = lf.dir / "hook-ran"
    extra = (
        "\n[agents.keyed]\n"
        f'command = "FOO_TOKEN={ENV_TOKEN} API_KEY={API_KEY} python3 {recorder} {{task}}"\n'
        f'resume = "FOO_TOKEN={ENV_TOKEN} python3 {recorder} --api-key {API_KEY}"\n'
        "idle = ['^> ?\\\\Z']\nwaiting = ['never']\nidle_after = 1.0\n"
        "\n[hooks]\n"
        # A hook that echoes its token in an error, as a failing curl would.
        f'"*" = "echo ran >> {hook_out}; echo \'error: bad token {HOOK_TOKEN}\' >&2; exit 3"\n'
    )
    keyed = FleetCLI(lf, extra_toml=extra)
    keyed.ok("-v", "new", "alpha", "--repo", "~/repo", "--agent", "keyed", "--name", "k", "go")
    keyed.wait_status("alpha/k", "idle")
    keyed.ok("-v", "send", "alpha/k", "exit 0")
    keyed.wait_status("alpha/k", "exited")
    keyed.ok("-v", "resume", "alpha/k")
    keyed.wait_status("alpha/k", "idle")
    keyed.ok("-v", "ls")
    keyed.ok("-v", "log", "alpha/k")
    keyed.ok("-v", "agents")
    wait_for(lambda: hook_out.exists() and hook_out.read_text().count("ran") >= 2, what="hooks")
    # The agent did get its secrets: they were passed, just never stored.
    sid = keyed.sessions()["alpha/k"]["id"]
    argv = [r["value"] for r in received(lf["alpha"], sid) if r["kind"] == "argv"]
    assert ["--api-key", API_KEY] in argv, argv
    audit = keyed.ok("log", "alpha/k", "--json").json()
    resumed = [e for e in audit if e["kind"] == "resume"]
    assert resumed and "[redacted]" in resumed[0]["detail"]["command"], resumed
    files = [p for p in lf.state_dir.rglob("*") if p.is_file()]
    assert any(p.name == "fleet.db" for p in files) and any(p.name == "fleet.log" for p in files)
    log_text = "\n".join(p.read_text(errors="replace") for p in files if "log" in p.name)
    assert "hooks." in log_text  # the failing hook was logged, by its key
    for secret in (HOOK_TOKEN, ENV_TOKEN, API_KEY):
        for path in files:
            assert secret.encode() not in path.read_bytes(), f"{secret} is in {path}"


def test_doctor_flags_loose_modes_on_fleets_files(tmp_path: Path) -> None:
    from fleet.cli.doctor import FAIL, OK, WARN, permission_checks
    from fleet.core.config import Config

    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "fleet.db").touch(mode=0o600)
    config = Config(path=tmp_path / "fleet.toml", exists=True)
    config.path.touch(mode=0o600)
    os.chmod(config.path, 0o600)
    assert [c.status for c in permission_checks(config, state)] == [OK]
    os.chmod(state / "fleet.db", 0o644)
    os.chmod(config.path, 0o666)
    found = {c.name: c for c in permission_checks(config, state)}
    assert (
        found["private files"].status == WARN and "fleet.db is 644" in found["private files"].detail
    )
    assert found["config file"].status == FAIL and "chmod 600" in found["config file"].fix
