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
import subprocess
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import skip_or_fail
from tests.integration.fleetrun import FleetCLI, git_in, wait_for
from tests.integration.hosts import APP_PY, LoopbackFleet, LoopbackHost

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


# An agent that tries to make fleet's own git (which runs outside the sandbox, as the person)
# run a program of its own, and to change what main contains. Its program appends to
# ~/ran-outside, which the sandbox cannot write: if that file appears, it ran outside.
ATTACK = textwrap.dedent(
    """\
    import json, os, subprocess, sys, zlib
    mode, repo = sys.argv[1], sys.argv[2]
    home = os.path.expanduser("~")
    marker = os.path.join(home, "ran-outside")
    report = {}

    def attempt(name, fn):
        try:
            fn()
            report[name] = "done"
        except Exception as exc:
            report[name] = "refused: %s" % exc

    def git(*args):
        return subprocess.run(["git", *args], check=True, capture_output=True,
                              text=True).stdout.strip()

    def write(path, text, mode=0o644):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)

    gitdir = git("rev-parse", "--path-format=absolute", "--git-dir")
    common = git("rev-parse", "--path-format=absolute", "--git-common-dir")
    evil = os.path.join(gitdir, "evil")  # writable in the sandbox, and out of the diff
    os.makedirs(os.path.join(evil, "hooks"), exist_ok=True)
    program = os.path.join(evil, "run.sh")
    write(program, '#!/bin/sh\\necho "$0 $*" >> %s\\nexit 0\\n' % marker, 0o755)
    passes = os.path.join(evil, "filter.sh")  # a filter passes its input through
    write(passes, '#!/bin/sh\\necho "$0 $*" >> %s\\nexec cat\\n' % marker, 0o755)
    for hook in ("pre-commit", "commit-msg", "post-commit", "pre-push", "post-checkout",
                 "reference-transaction", "post-index-change", "pre-auto-gc"):
        write(os.path.join(evil, "hooks", hook), open(program).read(), 0o755)
    config = (
        "[core]\\n\\thooksPath = {e}/hooks\\n\\tfsmonitor = {p}\\n\\tpager = {p}\\n"
        "\\tsshCommand = {p}\\n\\teditor = {p}\\n"
        "[filter \\"evil\\"]\\n\\tclean = {f}\\n\\tsmudge = {f}\\n"
        "[diff \\"evil\\"]\\n\\ttextconv = {p}\\n\\tcommand = {p}\\n"
        "[diff]\\n\\texternal = {p}\\n"
        "[merge \\"evil\\"]\\n\\tdriver = {p}\\n"
        "[credential]\\n\\thelper = {p}\\n"
        "[gpg]\\n\\tprogram = {p}\\n[commit]\\n\\tgpgSign = true\\n"
    ).format(e=evil, p=program, f=passes)

    def redirect_commondir():
        # A git dir of its own, sharing the real objects and refs, with the config above.
        fake = os.path.join(evil, "git")
        os.makedirs(fake, exist_ok=True)
        for name in ("objects", "refs", "packed-refs", "HEAD", "logs", "info", "worktrees"):
            if os.path.exists(os.path.join(common, name)):
                os.symlink(os.path.join(common, name), os.path.join(fake, name))
        write(os.path.join(fake, "config"),
              "[core]\\n\\trepositoryformatversion = 0\\n" + config)
        write(os.path.join(gitdir, "commondir"), fake + "\\n")

    def forge(objects, name):
        # Overwrite the loose object of main's NAME: git does not hash what it reads.
        def go():
            oid = git("rev-parse", "main:" + name)
            path = os.path.join(objects, oid[:2], oid[2:])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if os.path.exists(path):
                os.chmod(path, 0o644)
            data = b"forged by the agent\\n"
            with open(path, "wb") as f:
                f.write(zlib.compress(b"blob %d\\0" % len(data) + data))
        return go

    if mode == "programs":
        attempt("config-worktree",
                lambda: write(os.path.join(gitdir, "config.worktree"), config))
        attempt("attributes",
                lambda: write(".gitattributes", "* filter=evil diff=evil merge=evil\\n"))
    else:
        # The person's object store, by its path; and the one this agent's git writes.
        attempt("forge-main", forge(os.path.join(repo, ".git", "objects"), "notes.txt"))
        attempt("forge-own", forge(git("rev-parse", "--path-format=absolute", "--git-path",
                                       "objects"), "app.py"))
    # Work for the person to review: a commit, and two hunks in notes.txt.
    attempt("commit", lambda: (write("agent-commit.txt", "committed by the agent\\n"),
                               git("add", "agent-commit.txt"),
                               git("-c", "core.hooksPath=/dev/null", "-c",
                                   "commit.gpgSign=false", "commit", "-q", "-m",
                                   "agent commit")))
    notes = open("notes.txt").read().splitlines(True)
    notes[2], notes[29] = "line 3, by the agent\\n", "line 30, by the agent\\n"
    write("notes.txt", "".join(notes))
    if mode == "programs":
        attempt("commondir", redirect_commondir)
    with open("sandbox-report.json", "w") as f:
        json.dump(report, f)
    print("probe done", flush=True)
    """
)

# The example as it was before its git pointers were bound read-only: the agent can rewrite
# {gitdir}/commondir. fleet must refuse to run git for such a session, never follow it.
LEAKY_SANDBOX = """
bwrap --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --tmpfs /run
  --bind {worktree} {worktree} --ro-bind {worktree}/.git {worktree}/.git
  --bind {gitdir} {gitdir} --bind {commondir}/objects {commondir}/objects
  --bind {refdir} {refdir} --bind {logdir} {logdir}
  --unshare-pid --die-with-parent --unsetenv TMUX --unsetenv TMUX_PANE --chdir {worktree} --
"""


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
    attack = h.home / "attack.py"
    attack.write_text(ATTACK)
    os.chown(attack, h.uid, h.gid)
    hostile = f"python3 {attack} programs {{task}}"
    forger = f"python3 {attack} objects {{task}}"
    extra = (
        f"\n[agents.probe]\ncommand = {json.dumps(command)}\nidle = ['probe done']\n"
        f"waiting = ['never']\n"
        f"\n[agents.boxed]\ncommand = {json.dumps(command)}\nidle = ['probe done']\n"
        f"waiting = ['never']\nsandbox = {json.dumps(example_sandbox())}\n"
        f"\n[agents.attacker]\ncommand = {json.dumps(hostile)}\nidle = ['probe done']\n"
        f"waiting = ['never']\nsandbox = {json.dumps(example_sandbox())}\n"
        f"\n[agents.leaky]\ncommand = {json.dumps(hostile)}\nidle = ['probe done']\n"
        f"waiting = ['never']\nsandbox = {json.dumps(LEAKY_SANDBOX)}\n"
        f"\n[agents.forger]\ncommand = {json.dumps(forger)}\nidle = ['probe done']\n"
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


def test_bubblewrap_example_keeps_the_agent_in_its_worktree_and_branch(
    fleet: FleetCLI, tmp_path: Path
) -> None:
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
    # Its work is there: the file in the worktree, the commit on its own branch (in the
    # session's own repository: the person's fleet/sb stays at the base until work lands).
    worktree = h.home / ".fleet" / "worktrees" / "sb"
    assert (worktree / "agent-wrote.txt").read_text() == "agent was here\n"
    log = git_in(lf, "alpha", worktree, "log", "--format=%s", "-n", "1", "fleet/sb")
    assert log.strip() == "agent commit"
    base = git_in(lf, "alpha", h.repo, "rev-parse", "main").strip()
    assert git_in(lf, "alpha", h.repo, "rev-parse", "fleet/sb").strip() == base
    assert git_in(lf, "alpha", h.repo, "fsck", "--no-progress").strip() == ""
    # Nothing else changed: the home, the main checkout, main, tags, the repository's config.
    assert not (h.home / "canary-home").exists()
    assert repo_state(lf, h) == before
    # Landing copies the agent's commit into the person's repository, and on to a clone.
    local = tmp_path / "local"
    subprocess.run(["git", "init", "-q", str(local)], check=True)
    fleet.ok("land", "alpha/sb", "--into", str(local))
    log = git_in(lf, "alpha", h.repo, "log", "--format=%s", "-n", "1", "fleet/sb")
    assert log.strip() == "agent commit"
    assert git_in(lf, "alpha", h.repo, "fsck", "--no-progress").strip() == ""
    landed = subprocess.run(
        ["git", "-C", str(local), "log", "-1", "--format=%s", "fleet/alpha/sb"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert landed.stdout.strip() == "agent commit"
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


def main_state(lf: LoopbackFleet, h: LoopbackHost) -> dict[str, str]:
    """What `main` reads as in the person's repository, and whether that repository holds."""
    return {
        "main": git_in(lf, h.name, h.repo, "rev-parse", "main").strip(),
        "notes": git_in(lf, h.name, h.repo, "show", "main:notes.txt"),
        "checkout": lf.run_as(
            h.name, ["git", "-C", str(h.repo), "archive", "main", "notes.txt"], check=True
        ).stdout,
        "fsck": lf.run_as(h.name, ["git", "-C", str(h.repo), "fsck", "--no-progress"]).stdout,
    }


def ran_outside(h: LoopbackHost) -> str:
    marker = h.home / "ran-outside"
    return marker.read_text() if marker.exists() else ""


def hostile_repo(lf: LoopbackFleet, h: LoopbackHost) -> None:
    """The person's repository as sparse-checkout users have it (git then reads each
    worktree's config.worktree), with a bare origin to push to."""
    git_in(lf, h.name, h.repo, "config", "extensions.worktreeConfig", "true")
    origin = h.home / "origin.git"
    lf.run_as(h.name, ["git", "init", "-q", "--bare", str(origin)], check=True)
    git_in(lf, h.name, h.repo, "remote", "add", "origin", str(origin))


def test_an_agent_in_the_example_sandbox_makes_fleets_git_run_nothing_and_main_stays(
    fleet: FleetCLI, tmp_path: Path
) -> None:
    """The agent tries every way in: a commondir of its own, config.worktree, core.hooksPath,
    filters, textconv, external diff, merge drivers, signing. Then the person uses fleet on it
    (the watcher's diff stat with no action, diff, approve, reject, checkpoint, approve-all with
    a commit, push, land): nothing the agent named runs, and main reads the same."""
    lf = fleet.lf
    h = lf["alpha"]
    hostile_repo(lf, h)
    before = main_state(lf, h)
    repo = str(h.repo)
    fleet.ok("new", "alpha", "--repo", repo, "--agent", "attacker", "--name", "atk", repo)
    got = report(fleet, h, "atk")
    fleet.wait_status("alpha/atk", "exited")
    ref = "alpha/atk"
    sid = fleet.sessions()[ref]["id"]
    # The watcher's own diff stat, with nobody doing anything, sees the agent's work.
    state = h.home / ".fleet" / "sessions" / sid / "state.json"
    wait_for(
        lambda: (
            ran_outside(h)
            or (state.exists() and json.loads(state.read_text()).get("diffstat", {}).get("files"))
        ),
        what="the watcher's diff stat of the agent's work",
    )
    assert ran_outside(h) == "", "the watcher's git ran the agent's program outside the sandbox"
    seen = fleet.ok("diff", ref, "--json").json()
    assert ran_outside(h) == "", "fleet diff ran the agent's program outside the sandbox"
    assert main_state(lf, h) == before
    hunks = [(f["path"], x["number"]) for f in seen["files"] for x in f["hunks"]]
    notes = [n for path, n in hunks if path == "notes.txt"]
    assert len(notes) == 2, hunks
    fp = seen["fingerprint"]
    fleet.ok("approve", ref, "--hunk", str(notes[0]), "--expect", fp)
    fleet.ok("reject", ref, "--hunk", str(notes[1]), "--expect", fp, "--note", "no")
    fleet.ok("checkpoint", ref)
    fleet.ok("approve", ref, "-m", "take line 3")
    fleet.ok("push", ref)
    local = tmp_path / "local"
    subprocess.run(["git", "init", "-q", str(local)], check=True)
    fleet.ok("land", ref, "--into", str(local))

    assert ran_outside(h) == "", "fleet's git ran the agent's program outside the sandbox"
    # What the sandbox refused; what it let through is inert.
    assert got["commondir"].startswith("refused"), got
    assert got["commit"] == "done" and got["attributes"] == "done", got
    assert main_state(lf, h) == before
    # The approved work landed, the agent's commit under fleet's, every object whole.
    log = git_in(lf, "alpha", h.repo, "log", "--format=%s", "-n", "2", "fleet/atk")
    assert log.split("\n")[:2] == ["take line 3", "agent commit"]
    shown = git_in(lf, "alpha", h.repo, "show", "fleet/atk:notes.txt")
    assert "line 3, by the agent\n" in shown and "line 30, by the agent" not in shown
    origin = h.home / "origin.git"
    pushed = git_in(lf, "alpha", origin, "rev-parse", "fleet/atk").strip()
    assert pushed == git_in(lf, "alpha", h.repo, "rev-parse", "fleet/atk").strip()
    assert ran_outside(h) == ""


def test_fleet_refuses_a_session_whose_git_pointers_were_changed(fleet: FleetCLI) -> None:
    """With a sandbox that leaves {gitdir}/commondir writable, the agent points it at a git dir
    of its own making: fleet runs no git for that session, says why, and runs nothing."""
    lf = fleet.lf
    h = lf["alpha"]
    hostile_repo(lf, h)
    before = main_state(lf, h)
    fleet.ok("new", "alpha", "--repo", str(h.repo), "--agent", "leaky", "--name", "lk", str(h.repo))
    got = report(fleet, h, "lk")
    fleet.wait_status("alpha/lk", "exited")
    assert got["commondir"] == "done", got  # this sandbox let it
    ref = "alpha/lk"
    # The watcher tried its diff stat and said why it would not.
    journal = h.home / ".fleet" / "journal.jsonl"
    wait_for(
        lambda: ran_outside(h) or "git pointer" in journal.read_text(),
        what="the watcher's refusal in the journal",
    )
    assert ran_outside(h) == "", "the watcher's git ran the agent's program outside the sandbox"
    attempts = [
        ("diff", ref),
        ("approve", ref, "--hunk", "1"),
        ("reject", ref, "--hunk", "1"),
        ("checkpoint", ref),
        ("approve", ref, "-m", "commit it"),
        ("push", ref),
        ("rewind", ref, "1"),
    ]
    for args in attempts:
        r = fleet(*args)
        assert r.code == 1, (args, r)
        assert "git pointer" in r.err and "was changed" in r.err and "commondir" in r.err, (
            args,
            r.err,
        )
        assert "Traceback" not in r.err
    fleet.ok("ls")
    assert ran_outside(h) == "", "fleet's git ran the agent's program outside the sandbox"
    assert main_state(lf, h) == before


def test_an_agent_in_the_example_sandbox_cannot_change_what_main_contains(
    fleet: FleetCLI, tmp_path: Path
) -> None:
    """The agent overwrites the loose object of a file on main, in the person's object store
    and in the one its own git writes. main reads the same (its SHA would not have told), also
    after its work is approved, committed, landed and pushed."""
    lf = fleet.lf
    h = lf["alpha"]
    hostile_repo(lf, h)
    before = main_state(lf, h)
    repo = str(h.repo)
    fleet.ok("new", "alpha", "--repo", repo, "--agent", "forger", "--name", "fg", repo)
    got = report(fleet, h, "fg")
    fleet.wait_status("alpha/fg", "exited")
    assert main_state(lf, h) == before, got
    assert got["forge-main"].startswith("refused"), got
    assert got["forge-own"] == "done" and got["commit"] == "done", got  # its own store only
    ref = "alpha/fg"
    seen = fleet.ok("diff", ref, "--json").json()
    # Its own store's forged app.py is not a change: git compares names, not contents.
    assert sorted(f["path"] for f in seen["files"]) == [
        "agent-commit.txt",
        "notes.txt",
        "sandbox-report.json",
    ]
    notes = [x["number"] for f in seen["files"] if f["path"] == "notes.txt" for x in f["hunks"]]
    fleet.ok("approve", ref, "--hunk", str(notes[0]), "-m", "take line 3")
    fleet.ok("push", ref)
    local = tmp_path / "local"
    subprocess.run(["git", "init", "-q", str(local)], check=True)
    fleet.ok("land", ref, "--into", str(local))
    assert main_state(lf, h) == before
    # What landed holds main's files as they are, not as the agent's store had them.
    log = git_in(lf, "alpha", h.repo, "log", "--format=%s", "-n", "2", "fleet/fg")
    assert log.split("\n")[:2] == ["take line 3", "agent commit"]
    assert git_in(lf, "alpha", h.repo, "show", "fleet/fg:app.py") == APP_PY
    origin = h.home / "origin.git"
    assert git_in(lf, "alpha", origin, "show", "fleet/fg:app.py") == APP_PY
    assert git_in(lf, "alpha", origin, "fsck", "--no-progress").strip() == ""
