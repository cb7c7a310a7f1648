"""The bubblewrap example sandbox, for real: a fleet session on a loopback host runs a probe agent
inside examples/sandbox/bubblewrap.toml's `sandbox`, exactly as written there.

The probe writes its worktree and commits to its branch (it must be able to work), then tries
what it must not do: write the home directory and the main checkout, move `main`, change the
repository's config, reach fleet's tmux server. The same probe without the sandbox does all of
it, which shows that the checks can fail.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import skip_or_fail
from tests.integration.fleetrun import FleetCLI, git_in, wait_for
from tests.integration.hosts import LoopbackFleet, LoopbackHost

AGENT_TMP = Path("/tmp/agent-tmp")  # the probe writes it: in the sandbox, a private /tmp
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sandbox" / "bubblewrap.toml"

PROBE = textwrap.dedent(
    """\
    import json, os, subprocess, sys
    repo = sys.argv[1]
    home = os.path.expanduser("~")
    report = {}

    def attempt(name, fn):
        try:
            fn()
            report[name] = "done"
        except Exception as exc:  # the refusal is the result
            report[name] = "refused: %s" % exc

    def write(path):
        def go():
            with open(path, "w") as f:
                f.write("agent was here\\n")
        return go

    def git(*args):
        def go():
            subprocess.run(["git", *args], check=True, capture_output=True, text=True)
        return go

    attempt("worktree", write("agent-wrote.txt"))
    attempt("commit", lambda: (git("add", "agent-wrote.txt")(),
                               git("commit", "-q", "-m", "agent commit")()))
    attempt("tmp", write("/tmp/agent-tmp"))
    attempt("home", write(os.path.join(home, "canary-home")))
    attempt("repo", write(os.path.join(repo, "canary-repo")))
    attempt("git-config", git("-C", repo, "config", "core.hooksPath", "/tmp"))
    attempt("move-main", git("update-ref", "refs/heads/main", "HEAD"))
    attempt("tag", git("tag", "agent-tag"))
    # Its .git file points fleet's own git commands (run outside the sandbox) at a git dir.
    attempt("gitfile", lambda: open(".git", "a").close())
    attempt("tmux", lambda: subprocess.run(
        ["tmux", "-L", "fleet", "list-sessions"], check=True, capture_output=True))
    with open("sandbox-report.json", "w") as f:
        json.dump(report, f)
    print("probe done", flush=True)
    """
)

# What the probe may do inside the sandbox, and what it must be refused.
ALLOWED = ("worktree", "commit", "tmp")
REFUSED = ("home", "repo", "git-config", "move-main", "tag", "gitfile", "tmux")


def example_sandbox() -> str:
    doc = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    return str(doc["agents"]["claude"]["sandbox"])


def bwrap_works(lf: LoopbackFleet, host: str) -> str:
    """ "" when the host's user can start bwrap, else why not (user namespaces, not installed)."""
    if shutil.which("bwrap") is None:
        return "bwrap is not installed (apt-get install bubblewrap)"
    probe = lf.run_as(host, ["bwrap", "--ro-bind", "/", "/", "--unshare-pid", "true"])
    return "" if probe.returncode == 0 else f"bwrap cannot start: {probe.stderr.strip()}"


@pytest.fixture
def fleet(fresh_hosts: LoopbackFleet) -> Iterator[FleetCLI]:
    why = bwrap_works(fresh_hosts, "alpha")
    if why:
        skip_or_fail(why)
    # In the host user's home, as an installed agent would be: the sandbox's /tmp is empty.
    h = fresh_hosts["alpha"]
    probe = h.home / "probe.py"
    probe.write_text(PROBE)
    os.chown(probe, h.uid, h.gid)
    command = f"python3 {probe} {{task}}"
    extra = (
        f"\n[agents.probe]\ncommand = {json.dumps(command)}\nidle = ['probe done']\n"
        f"waiting = ['never']\n"
        f"\n[agents.boxed]\ncommand = {json.dumps(command)}\nidle = ['probe done']\n"
        f"waiting = ['never']\nsandbox = {json.dumps(example_sandbox())}\n"
    )
    AGENT_TMP.unlink(missing_ok=True)
    yield FleetCLI(fresh_hosts, extra_toml=extra)
    AGENT_TMP.unlink(missing_ok=True)


def report(fleet: FleetCLI, h: LoopbackHost, name: str) -> dict[str, str]:
    path = h.home / ".fleet" / "worktrees" / name / "sandbox-report.json"
    try:
        data = wait_for(lambda: path.is_file() and path.read_text(), what=f"{name}'s report")
    except AssertionError as exc:
        screen = fleet("screen", f"{h.name}/{name}")
        raise AssertionError(f"{exc}\nits screen:\n{screen.out}{screen.err}") from None
    result: dict[str, str] = json.loads(data)
    return result


def repo_state(lf: LoopbackFleet, h: LoopbackHost) -> dict[str, Any]:
    return {
        "main": git_in(lf, h.name, h.repo, "rev-parse", "refs/heads/main").strip(),
        "tags": git_in(lf, h.name, h.repo, "tag", "--list").split(),
        "config": (h.repo / ".git" / "config").read_text(),
        "files": sorted(p.name for p in h.repo.iterdir()),
    }


def test_bubblewrap_example_keeps_the_agent_in_its_worktree_and_branch(fleet: FleetCLI) -> None:
    lf = fleet.lf
    h = lf["alpha"]
    before = repo_state(lf, h)
    fleet.ok("new", "alpha", "--repo", str(h.repo), "--agent", "boxed", "--name", "sb", str(h.repo))
    got = report(fleet, h, "sb")
    fleet.wait_status("alpha/sb", "exited")

    for name in ALLOWED:
        assert got[name] == "done", (name, got)
    for name in REFUSED:
        assert got[name].startswith("refused"), (name, got)
    # Its work is there: the file in the worktree, the commit on its own branch.
    worktree = h.home / ".fleet" / "worktrees" / "sb"
    assert (worktree / "agent-wrote.txt").read_text() == "agent was here\n"
    log = git_in(lf, "alpha", h.repo, "log", "--format=%s", "-n", "1", "fleet/sb")
    assert log.strip() == "agent commit"
    assert git_in(lf, "alpha", h.repo, "fsck", "--no-progress").strip() == ""
    # Nothing else changed: the home, the main checkout, main, tags, the repository's config.
    assert not (h.home / "canary-home").exists()
    assert repo_state(lf, h) == before
    assert not AGENT_TMP.exists(), "the sandbox's /tmp was the real one"
    # The session's own files outside the sandbox were written (exit code recorded).
    assert fleet.sessions()["alpha/sb"]["exit_code"] == 0


def test_the_same_probe_without_the_sandbox_does_everything(fleet: FleetCLI) -> None:
    """The control: every refusal above comes from the sandbox, not from the probe or the host."""
    lf = fleet.lf
    h = lf["alpha"]
    before = repo_state(lf, h)
    fleet.ok(
        "new", "alpha", "--repo", str(h.repo), "--agent", "probe", "--name", "free", str(h.repo)
    )
    got = report(fleet, h, "free")
    for name in ALLOWED + REFUSED:
        assert got[name] == "done", (name, got)
    assert (h.home / "canary-home").exists()
    after = repo_state(lf, h)
    assert after["main"] != before["main"] and "agent-tag" in after["tags"]
    assert AGENT_TMP.exists()


def test_a_host_without_the_sandbox_program_refuses_to_start(fleet: FleetCLI) -> None:
    lf = fleet.lf
    h = lf["alpha"]
    missing = FleetCLI(
        lf,
        extra_toml='\n[agents.nobox]\ncommand = "python3 -c pass"\nwaiting = ["x"]\n'
        'sandbox = "fleet-no-such-wrapper --bind {worktree} {worktree} --"\n',
    )
    r = missing("new", "alpha", "--repo", str(h.repo), "--agent", "nobox", "--name", "nb")
    assert r.code == 1, r
    assert "fleet-no-such-wrapper is not installed on this host" in r.err, r.err
    assert "Traceback" not in r.err
    assert not (h.home / ".fleet" / "worktrees" / "nb").exists()


def test_resume_applies_the_sandbox_configured_now(fleet: FleetCLI) -> None:
    """A sandbox added to the profile after a session started applies when it is resumed."""
    lf = fleet.lf
    h = lf["alpha"]
    fleet.ok("new", "alpha", "--repo", str(h.repo), "--agent", "probe", "--name", "rs", str(h.repo))
    report(fleet, h, "rs")
    fleet.wait_status("alpha/rs", "exited")
    main_before = git_in(lf, "alpha", h.repo, "rev-parse", "main").strip()
    worktree = h.home / ".fleet" / "worktrees" / "rs"
    (worktree / "sandbox-report.json").unlink()
    (h.home / "canary-home").unlink()
    # The same session, its profile now sandboxed: the probe's command with the example's wrapper.
    text = fleet.config.read_text().replace(
        "[agents.probe]\n", f"[agents.probe]\nsandbox = {json.dumps(example_sandbox())}\n"
    )
    fleet.config.write_text(text)
    fleet.ok("resume", "alpha/rs")
    got = report(fleet, h, "rs")
    assert got["home"].startswith("refused") and got["move-main"].startswith("refused"), got
    assert not (h.home / "canary-home").exists()
    assert git_in(lf, "alpha", h.repo, "rev-parse", "main").strip() == main_before
