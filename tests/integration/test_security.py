"""Security properties, end to end: real `fleet` CLI, real sshd hosts, real tmux and git.

Nothing a person or an agent writes (session names, tasks, repo paths, steering text) may reach
a shell on the host; host keys are always checked and a refusal uploads nothing; a host that
lacks a tool or refuses the key fails fast with a readable reason; fleet's files on a host are
private to its user.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.integration.fleetrun import FleetCLI, Result, received, received_lines, wait_for
from tests.integration.hosts import SAFE_PATH, LoopbackFleet, LoopbackHost

INJ_GLOB = "fleet-inj-*"
TMP = Path("/tmp")


@pytest.fixture
def fleet(fresh_hosts: LoopbackFleet) -> Iterator[FleetCLI]:
    _clean_injected()
    yield FleetCLI(fresh_hosts)
    _clean_injected()


def _clean_injected() -> None:
    for p in TMP.glob(INJ_GLOB):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def injected() -> list[str]:
    """Files an injected shell command would have created (in /tmp or a host user's home)."""
    return sorted(p.name for p in TMP.glob(INJ_GLOB))


def no_traceback(*results: Result) -> None:
    for r in results:
        assert "Traceback" not in r.err and "Traceback" not in r.out, r.err


def fingerprint(h: LoopbackHost) -> str:
    """SHA256:... of the host's current host key, as ssh-keygen prints it."""
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", f"{h.host_key}.pub"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    m = re.search(r"SHA256:\S+", out)
    assert m, out
    return m.group(0)


def ssh(
    lf: LoopbackFleet, host: str, command: str, **kw: object
) -> subprocess.CompletedProcess[str]:
    """Plain OpenSSH into a loopback host (to check a precondition the way a person would)."""
    return subprocess.run(
        ["ssh", "-F", str(lf.ssh_config), "-o", "BatchMode=yes", host, command],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
        **kw,  # type: ignore[arg-type]
    )


def set_ssh_option(lf: LoopbackFleet, host: str, key: str, value: str) -> None:
    """Set (replace or add) one option in `host`'s block of the loopback ssh_config."""
    blocks = re.split(r"(?m)^(?=Host )", lf.ssh_config.read_text())
    out = []
    for block in blocks:
        if block.startswith(f"Host {host}\n"):
            lines = [ln for ln in block.rstrip("\n").split("\n") if ln.split()[:1] != [key]]
            block = "\n".join([*lines, f"  {key} {value}"]) + "\n\n"
        out.append(block)
    lf.ssh_config.write_text("".join(out))


def agent_environment(fleet: FleetCLI, host: LoopbackHost, name: str) -> str:
    """The environment a shell agent started on `host` as NAME sees (`env` run in its pane)."""
    ref = f"{host.name}/{name}"
    fleet.ok("new", host.name, "--repo", "~/repo", "--agent", "shell", "--name", name)
    fleet.wait_status(ref, "idle")
    fleet.ok("send", ref, "env > env.txt")
    seen = host.home / ".fleet" / "worktrees" / name / "env.txt"
    text: str = wait_for(
        lambda: seen.exists() and "FLEET_SESSION=" in seen.read_text() and seen.read_text(),
        what="the agent's environment",
    )
    return text


def worktrees(h: LoopbackHost) -> list[str]:
    d = h.home / ".fleet" / "worktrees"
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def git_as(lf: LoopbackFleet, host: str, *args: str, cwd: Path | None = None) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    return lf.run_as(host, ["git", *args], env=env, cwd=cwd or lf[host].home, check=True).stdout


def make_repo(lf: LoopbackFleet, host: str, path: Path) -> None:
    """A git repo with one commit at `path` on the host, made by the host's user."""
    git_as(lf, host, "init", "-q", "-b", "main", str(path))
    (path / "README").write_text("hi\n")
    os.chown(path / "README", lf[host].uid, lf[host].gid)
    git_as(lf, host, "add", "README", cwd=path)
    git_as(lf, host, "commit", "-q", "-m", "init", cwd=path)


# -- 1. session names ------------------------------------------------------------------------

HOSTILE_NAMES = [
    "x;touch /tmp/fleet-inj-name",
    "$(touch /tmp/fleet-inj-name2)",
    "`touch /tmp/fleet-inj-name3`",
    "two words",
    "../escape",
    "a/b",
    "-x",
    "--help",
    ".hidden",
    "x" * 49,
    "ünïcødé",
    "new\nline",
]


def test_hostile_session_names_are_refused_before_anything_is_created(fleet: FleetCLI) -> None:
    h = fleet.lf["alpha"]

    def attempt(name: str) -> Result:
        return fleet(
            "new", "alpha", "--repo", "~/repo", "--agent", "recorder", f"--name={name}", "t"
        )

    with ThreadPoolExecutor(max_workers=4) as pool:  # 4 at once: within sshd's MaxStartups
        results = list(pool.map(attempt, HOSTILE_NAMES))
    for name, r in zip(HOSTILE_NAMES, results, strict=True):
        assert r.code in (1, 2), (name, r)
        assert "invalid session name" in r.err, (name, r.err)
    # The plain form: argparse sees "-x" as an option, a usage error.
    r = fleet("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "-x", "t")
    assert r.code == 2 and "--name" in r.err
    no_traceback(*results, r)
    assert injected() == []
    assert worktrees(h) == []
    branches = git_as(fleet.lf, "alpha", "branch", "--list", cwd=h.repo)
    assert "fleet/" not in branches
    assert fleet.sessions() == {}


# -- 2. tasks --------------------------------------------------------------------------------

HOSTILE_TASK = (
    "$(touch /tmp/fleet-inj-task) ; touch /tmp/fleet-inj-task2 `id` \"q\" 'q' \n newline"
    " && touch /tmp/fleet-inj-task3 | {task} ${HOME} %s \\ \t tab ünï"
)


def test_task_reaches_the_agent_as_one_untouched_argument(fleet: FleetCLI) -> None:
    lf = fleet.lf
    recorder = lf.dir / "agents" / "recorder.py"
    glued = FleetCLI(
        lf,
        extra_toml=f'\n[agents.glued]\ncommand = "python3 {recorder} --prompt={{task}}"\n'
        "idle = ['^> ?\\\\Z']\n",
    )
    fleet.ok(
        "new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "t1", HOSTILE_TASK
    )
    # After "--" a task may start with "-" (it must not be read as an option, by fleet or agent).
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "t2", "--", "-rf")
    glued.ok("new", "beta", "--repo", "~/repo", "--agent", "glued", "--name", "g1", HOSTILE_TASK)
    sessions = fleet.sessions()
    h, b = lf["alpha"], lf["beta"]

    def argv(host: LoopbackHost, ref: str) -> list[str]:
        sid = sessions[ref]["id"]
        first = wait_for(lambda: received(host, sid), what=f"{ref}'s agent to start")[0]
        assert first["kind"] == "argv", first
        return list(first["value"])

    assert argv(h, "alpha/t1") == [HOSTILE_TASK]
    assert argv(h, "alpha/t2") == ["-rf"]
    assert argv(b, "beta/g1") == [f"--prompt={HOSTILE_TASK}"]
    assert sessions["alpha/t1"]["task"] == HOSTILE_TASK
    fleet.wait_status("alpha/t1", "idle")  # the agent ran fully: anything injected ran too
    assert injected() == []


def test_shell_agent_types_its_task_exactly_once(fleet: FleetCLI) -> None:
    """The shell profile TYPES its task into an interactive shell: by design that is a command
    line the person asked to run. What must hold: typed once, not twice, and as written."""
    lf = fleet.lf
    h = lf["alpha"]
    task = "echo typed-$((6*7)) 'single  quoted' >> once.txt"
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "shell", "--name", "sh1", task)
    out = h.home / ".fleet" / "worktrees" / "sh1" / "once.txt"
    wait_for(out.exists, what="the shell to run the typed task")
    fleet.wait_status("alpha/sh1", "idle")
    fleet.ok("send", "alpha/sh1", "echo marker >> once.txt")
    wait_for(lambda: "marker" in out.read_text(), what="the marker command to run")
    assert out.read_text() == "typed-42 single  quoted\nmarker\n"
    sid = fleet.sessions()["alpha/sh1"]["id"]
    journal = (h.home / ".fleet" / "journal.jsonl").read_text().splitlines()
    inputs = [e for e in map(json.loads, journal) if e.get("session") == sid]
    assert [e["what"] for e in inputs if e["type"] == "input"] == ["task"]


# -- 3. repo paths ---------------------------------------------------------------------------

HOSTILE_DIR = "my repo; $(touch /tmp/fleet-inj-repo) `touch /tmp/fleet-inj-repo2` 'q' \"dq\" ünï"


def test_repo_path_with_shell_characters_works_and_runs_nothing(fleet: FleetCLI) -> None:
    lf = fleet.lf
    h = lf["alpha"]
    repo = h.home / HOSTILE_DIR
    make_repo(lf, "alpha", repo)
    r = fleet.ok(
        "new", "alpha", "--repo", str(repo), "--agent", "recorder", "--name", "r1", "--json", "go"
    )
    session = r.json()
    assert session["repo"] == str(repo)
    worktree = h.home / ".fleet" / "worktrees" / "r1"
    assert session["worktree"] == str(worktree)
    assert (worktree / "README").read_text() == "hi\n"
    assert str(worktree) in git_as(lf, "alpha", "worktree", "list", cwd=repo)
    assert "fleet/r1" in git_as(lf, "alpha", "branch", "--list", cwd=repo)
    wait_for(lambda: received(h, session["id"]), what="the agent to start in the worktree")
    fleet.wait_status("alpha/r1", "idle")
    # The same path through ~ (expanded on the host, not by a shell).
    fleet.ok("new", "alpha", "--repo", f"~/{HOSTILE_DIR}", "--agent", "recorder", "--name", "r2")
    assert worktrees(h) == ["r1", "r2"]
    assert injected() == []


def test_repo_or_base_starting_with_dash_is_never_an_option(fleet: FleetCLI) -> None:
    lf = fleet.lf
    h = lf["alpha"]
    make_repo(lf, "alpha", h.home / "-dash-repo")
    # A relative path is the host user's home's: "-dash-repo" is a directory, not an option.
    r = fleet.ok(
        "new", "alpha", "--repo=-dash-repo", "--agent", "recorder", "--name", "d1", "--json"
    )
    assert r.json()["repo"] == str(h.home / "-dash-repo")
    assert (h.home / ".fleet" / "worktrees" / "d1" / "README").is_file()
    hostile = [
        ("--repo=--upload-pack=touch /tmp/fleet-inj-dash", "does not exist"),
        ("--repo=-c core.fsmonitor=touch /tmp/fleet-inj-dash2", "does not exist"),
    ]
    results = []
    for repo_arg, message in hostile:
        res = fleet("new", "alpha", repo_arg, "--agent", "recorder", "--name", "d2")
        assert res.code == 1 and message in res.err, res
        results.append(res)
    for base in ("--output=/tmp/fleet-inj-base", "HEAD;touch /tmp/fleet-inj-base2", "$(id)"):
        res = fleet(
            "new",
            "alpha",
            "--repo",
            "~/repo",
            f"--base={base}",
            "--agent",
            "recorder",
            "--name",
            "b",
        )
        assert res.code == 1 and ("invalid base ref" in res.err or "not found" in res.err), res
        results.append(res)
    no_traceback(*results)
    assert worktrees(h) == ["d1"]
    assert injected() == []


# -- 4. steering text ------------------------------------------------------------------------


def test_steering_control_characters_and_long_text(fleet: FleetCLI) -> None:
    """What the agent receives for awkward steering text.

    Current, asserted behaviour: `tmux send-keys -l` types each character as itself, so a
    newline IS a line end: "a\\nb" reaches a line-reading agent as two submitted lines "a" and
    "b" (in a raw-mode TUI it is C-j, which most agents read as "new line in the input").
    Tabs, ESC sequences and BEL arrive byte for byte; nothing is interpreted by a shell. The
    recorder reads a canonical-mode tty, whose kernel line limit is 4095 bytes, so the long
    lines here stay below it; a long message of many lines (20 KB, more than tmux takes in one
    command) must arrive whole.
    """
    lf = fleet.lf
    h = lf["alpha"]
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "st")
    sid = fleet.wait_status("alpha/st", "idle")["id"]
    long_line = "".join(chr(ord("a") + i % 26) for i in range(4000))
    many_lines = [f"{i:04d}:" + "z" * 995 for i in range(20)]
    messages = [
        "two\nlines",
        "tab\there",
        "red \x1b[31mRED\x1b[0m bell\x07 osc \x1b]0;title\x07 end",
        long_line,
        "\n".join(many_lines),
        "$(touch /tmp/fleet-inj-steer) `touch /tmp/fleet-inj-steer2`",
    ]
    for text in messages:
        fleet.ok("send", "alpha/st", "--", text)
    want = [
        "two",
        "lines",
        "tab\there",
        "red \x1b[31mRED\x1b[0m bell\x07 osc \x1b]0;title\x07 end",
        long_line,
        *many_lines,
        "$(touch /tmp/fleet-inj-steer) `touch /tmp/fleet-inj-steer2`",
    ]
    got = wait_for(
        lambda: (lines := received_lines(h, sid)) and len(lines) >= len(want) and lines,
        what="every message to arrive",
        timeout=30,
    )
    assert got == want
    # What fleet shows of that screen is inert: no escape reached this terminal.
    screen = fleet.ok("screen", "alpha/st").out
    assert "\x1b" not in screen and "\x07" not in screen
    assert injected() == []


# -- 5, 6. host keys -------------------------------------------------------------------------


def _host_reasons(fleet: FleetCLI) -> tuple[Result, dict[str, dict[str, object]]]:
    r = fleet("hosts", "--json")
    return r, {h["name"]: h for h in r.json()}


def test_untrusted_host_key_is_refused_and_nothing_uploaded(fleet: FleetCLI) -> None:
    lf = fleet.lf
    h = lf["alpha"]
    lf.known_hosts.write_text("\n".join(lf.known_hosts_lines(exclude=["alpha"])) + "\n")
    r, hosts = _host_reasons(fleet)
    assert r.code == 1
    alpha = hosts["alpha"]
    reason = str(alpha["reason"])
    assert alpha["reachable"] is False
    assert "not trusted" in reason and "CHANGED" not in reason
    assert fingerprint(h) in reason
    assert "`fleet trust alpha`" in reason
    assert hosts["beta"]["reachable"] is True, hosts["beta"]

    ls = fleet("ls")
    assert ls.code == 1
    assert "fleet: alpha: host key not trusted" in ls.err and fingerprint(h) in ls.err
    new = fleet("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "n")
    assert new.code == 1 and "not trusted" in new.err
    no_traceback(r, ls, new)
    assert not (h.home / ".fleet").exists(), "something was uploaded to an untrusted host"
    # beta keeps working in the same config.
    fleet.ok("new", "beta", "--repo", "~/repo", "--agent", "recorder", "--name", "b")
    listing = fleet("ls", "--json")
    assert listing.code == 1 and [s["ref"] for s in listing.json()] == ["beta/b"]


def test_changed_host_key_is_refused_as_changed_and_nothing_uploaded(fleet: FleetCLI) -> None:
    lf = fleet.lf
    h = lf["alpha"]
    old = fingerprint(h)
    lf.restart_host("alpha", new_host_key=True)  # known_hosts keeps the old key
    new_fp = fingerprint(h)
    assert new_fp != old
    r, hosts = _host_reasons(fleet)
    assert r.code == 1
    reason = str(hosts["alpha"]["reason"])
    assert "host key CHANGED" in reason and new_fp in reason, reason
    # The exact command that forgets the old key (never done for the person), then fleet trust.
    remove = f"`ssh-keygen -R '[127.0.0.1]:{h.port}' -f {lf.known_hosts}`"
    assert remove in reason and "`fleet trust alpha`" in reason, reason
    assert hosts["beta"]["reachable"] is True
    new = fleet("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "n")
    assert new.code == 1 and "CHANGED" in new.err
    no_traceback(r, new)
    assert not (h.home / ".fleet").exists(), "something was uploaded to a host with a new key"


# -- 7. a host missing a tool ----------------------------------------------------------------


@pytest.mark.parametrize("missing", ["git", "tmux"])
def test_host_missing_a_tool_is_reported_and_nothing_uploaded(
    fleet: FleetCLI, missing: str
) -> None:
    """sshd runs commands with the user's shell (`bash -c`), and Debian's bash reads ~/.bashrc
    for them: a PATH set at its top, before the "not interactive: return" line, is the PATH of
    every command fleet runs there."""
    lf = fleet.lf
    h = lf["alpha"]
    tools = h.home / "tools"
    tools.mkdir()
    for tool in ("python3", "tmux", "git"):
        if tool != missing:
            found = shutil.which(tool, path=SAFE_PATH)
            assert found, tool
            (tools / tool).symlink_to(found)
    bashrc = h.home / ".bashrc"
    bashrc.write_text(f"PATH={tools}\n" + (bashrc.read_text() if bashrc.exists() else ""))
    # Precondition, checked the way a person would: the tool is gone for ssh commands only.
    probe = ssh(lf, "alpha", f"command -v {missing} || echo gone; command -v python3")
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split("\n")[0] == "gone" and str(tools / "python3") in probe.stdout

    r = fleet("hosts")
    assert r.code == 1
    alpha_line = next(line for line in r.out.splitlines() if line.startswith("alpha "))
    assert "unreachable" in alpha_line and f"missing {missing}:" in alpha_line, r.out
    assert re.search(r"^beta\s+beta\s+ok\b", r.out, re.M), r.out
    new = fleet("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "n")
    assert new.code == 1 and f"missing {missing}" in new.err
    no_traceback(r, new)
    assert not (h.home / ".fleet").exists(), "the helper was uploaded to a host lacking a tool"


# -- 8. login refused, no prompt, no forwarding ----------------------------------------------


def _stranger_key(lf: LoopbackFleet, passphrase: str = "") -> Path:
    d = Path(tempfile.mkdtemp(prefix="fleet-sec-", dir=lf.dir))
    key = d / "key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-f", str(key)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return key


def _run_batch(fleet: FleetCLI, *args: str, timeout: float = 30) -> tuple[Result, float]:
    """Run fleet with stdin at EOF, so a prompt could only fail or hang (caught by timeout)."""
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "fleet", *args],
        env=fleet.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr), time.monotonic() - start


PROMPTS = re.compile(r"(?i)password:|passphrase for|enter passphrase|\(yes/no")


@pytest.mark.parametrize("kind", ["unauthorized", "passphrase"])
def test_refused_login_fails_fast_without_prompting(fleet: FleetCLI, kind: str) -> None:
    lf = fleet.lf
    key = _stranger_key(lf, passphrase="secret words" if kind == "passphrase" else "")
    set_ssh_option(lf, "alpha", "IdentityFile", str(key))
    precondition = ssh(lf, "alpha", "true")
    assert precondition.returncode == 255, "OpenSSH itself should be refused with this key"

    r, took = _run_batch(fleet, "hosts", "--json")
    assert r.code == 1
    hosts = {x["name"]: x for x in r.json()}
    reason = str(hosts["alpha"]["reason"])
    if kind == "unauthorized":
        assert "login refused" in reason, reason
    else:
        assert "login refused" in reason or "cannot use the configured key" in reason, reason
    assert hosts["beta"]["reachable"] is True
    assert took < 20, f"a refused login took {took:.1f} s"
    assert not PROMPTS.search(r.out + r.err), r.err
    new, _ = _run_batch(fleet, "new", "alpha", "--repo", "~/repo", "--agent", "recorder")
    assert new.code == 1 and "fleet: alpha:" in new.err
    no_traceback(r, new)
    assert not PROMPTS.search(new.out + new.err)
    assert not (lf["alpha"].home / ".fleet").exists()


def test_agent_is_never_forwarded_even_when_ssh_config_asks(fleet: FleetCLI) -> None:
    lf = fleet.lf
    h = lf["alpha"]
    agent_dir = Path(tempfile.mkdtemp(prefix="fleet-sec-agent-"))
    sock = agent_dir / "agent.sock"
    started = subprocess.run(
        ["ssh-agent", "-a", str(sock), "-s"], capture_output=True, text=True, check=True
    )
    pid = int(re.search(r"SSH_AGENT_PID=(\d+)", started.stdout).group(1))  # type: ignore[union-attr]
    try:
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        subprocess.run(["ssh-add", "-q", str(lf.client_key)], env=env, check=True)
        set_ssh_option(lf, "alpha", "ForwardAgent", "yes")
        # Precondition: with this config OpenSSH does forward the agent to alpha.
        plain = ssh(lf, "alpha", 'echo "sock=$SSH_AUTH_SOCK"', env=env)
        assert re.search(r"sock=/\S+", plain.stdout), plain

        fleet.env["SSH_AUTH_SOCK"] = str(sock)
        text = agent_environment(fleet, h, "env")
        assert "SSH_AUTH_SOCK" not in text
        assert "DISPLAY=" not in text
    finally:
        os.kill(pid, 15)
        shutil.rmtree(agent_dir, ignore_errors=True)


# -- 9. private files ------------------------------------------------------------------------


def test_files_fleet_keeps_on_a_host_are_private(fleet: FleetCLI) -> None:
    lf = fleet.lf
    h = lf["alpha"]
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "p1", "task")
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "p2")
    fleet.wait_status("alpha/p1", "idle")
    fleet.wait_status("alpha/p2", "idle")
    base = h.home / ".fleet"

    def mode(p: Path) -> int:
        return p.lstat().st_mode & 0o777

    assert mode(base) == 0o700
    helpers = list(base.glob("helper-*.pyz"))
    assert len(helpers) == 1 and mode(helpers[0]) == 0o700
    assert mode(base / "sessions") == 0o700 and mode(base / "worktrees") == 0o700
    metas = sorted((base / "sessions").glob("*/meta.json"))
    assert len(metas) == 2
    for meta in metas:
        assert mode(meta) == 0o600, meta
        assert mode(meta.parent) == 0o700, meta.parent
    # Everything fleet itself writes (logs of agent output, screens, journal) is the user's only.
    for p in [*base.iterdir(), *(base / "sessions").glob("*/*")]:
        if p.is_file():
            assert mode(p) & 0o077 == 0, f"{p} is {oct(mode(p))}"
    for p in (base / "worktrees").iterdir():
        assert p.is_dir()
    assert all(p.stat().st_uid == h.uid for p in [base, *base.rglob("*")] if not p.is_symlink())
