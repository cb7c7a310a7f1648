"""The whole path for real: sessions on two loopback sshd hosts, in tmux, in git worktrees."""

from __future__ import annotations

import subprocess

import pytest

from tests.integration.fleetrun import FleetCLI, received, received_lines, wait_for
from tests.integration.hosts import LoopbackFleet

REQUIRED_KEYS = {"id", "name", "host", "agent", "status", "branch", "worktree", "repo"}


@pytest.fixture
def fleet(fresh_hosts: LoopbackFleet) -> FleetCLI:
    return FleetCLI(fresh_hosts)


def git(lf: LoopbackFleet, host: str, *args: str) -> str:
    h = lf[host]
    return lf.run_as(host, ["git", "-C", str(h.repo), *args]).stdout


def test_hosts_reports_each_host_reachable(fleet: FleetCLI) -> None:
    result = fleet.ok("hosts", "--json")
    hosts = {h["name"]: h for h in result.json()}
    assert set(hosts) == {"alpha", "beta"}
    for h in hosts.values():
        assert h["reachable"], h
        assert h["versions"]["tmux"].startswith("tmux ")
    text = fleet.ok("hosts").out
    assert "alpha" in text and "ok" in text


def test_sessions_on_two_hosts_listed_with_their_worktrees(fleet: FleetCLI) -> None:
    lf = fleet.lf
    a = fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "fix", "the", "bug")
    b = fleet.ok(
        "new",
        "beta",
        "--repo",
        str(lf["beta"].repo),
        "--agent",
        "recorder",
        "--name",
        "b1",
        "write docs",
    )
    assert a.out.strip() == "alpha/fix-the-bug"
    assert b.out.strip() == "beta/b1"

    sessions = fleet.sessions()
    assert set(sessions) == {"alpha/fix-the-bug", "beta/b1"}
    for s in sessions.values():
        assert set(s) >= REQUIRED_KEYS, s
        assert s["agent"] == "recorder"
        assert s["branch"] == f"fleet/{s['name']}"
        assert s["worktree"].endswith(f"/.fleet/worktrees/{s['name']}")
        assert s["repo"] == str(lf[s["host"]].repo)
    # Real git state on each host: its own worktree on its own branch.
    assert "fleet/fix-the-bug" in git(lf, "alpha", "branch", "--list")
    assert "fleet/b1" in git(lf, "beta", "branch", "--list")
    worktrees = git(lf, "alpha", "worktree", "list", "--porcelain")
    assert sessions["alpha/fix-the-bug"]["worktree"] in worktrees
    # The task reached the agent as one argument, untouched.
    a_id = sessions["alpha/fix-the-bug"]["id"]
    wait_for(lambda: received(lf["alpha"], a_id), what="the recorder to start")
    assert received(lf["alpha"], a_id)[0] == {"kind": "argv", "value": ["fix the bug"]}

    fleet.wait_status("alpha/fix-the-bug", "idle")
    table = fleet.ok("ls").out
    assert "alpha/fix-the-bug" in table and "beta/b1" in table and "idle" in table


HOSTILE_TEXTS = [
    """it's "quoted" and 'single' ; echo no; $(touch /tmp/fleet-pwned) `id` $HOME""",
    "Enter",
    "C-c",
    "Escape C-d Enter",
    "-x --flag",
    "\\; ; \\\\ %s %n #{session_name}",
    "ünïcødé → ✓ 漢字",
    "--",  # after `--`, a second "--" is the message (argparse alone dropped it)
    "-",  # and "-" is a dash, not stdin
]


def test_steering_text_arrives_exactly_as_written(fleet: FleetCLI) -> None:
    lf = fleet.lf
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "steer")
    session = fleet.wait_status("alpha/steer", "idle")
    for text in HOSTILE_TEXTS:
        fleet.ok("send", "alpha/steer", "--", text)
    # One more through stdin.
    fleet.ok("send", "alpha/steer", "-", input="from stdin; $(id)")
    want = [*HOSTILE_TEXTS, "from stdin; $(id)"]
    got = wait_for(
        lambda: (lines := received_lines(lf["alpha"], session["id"])) == want and lines,
        what="every message to arrive",
    )
    assert got == want
    result = subprocess.run(["ls", "/tmp/fleet-pwned"], capture_output=True)
    assert result.returncode != 0, "steering text was run by a shell"


def test_stop_keeps_work_and_resume_restarts_in_the_same_worktree(fleet: FleetCLI) -> None:
    lf = fleet.lf
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "s1")
    first = fleet.wait_status("alpha/s1", "idle")
    worktree = lf["alpha"].home / ".fleet/worktrees/s1"
    (worktree / "agent-work.txt").write_text("precious\n")

    stop = fleet.ok("stop", "alpha/s1")
    assert "worktree" in stop.err
    assert fleet.sessions()["alpha/s1"]["status"] == "stopped"
    assert (worktree / "agent-work.txt").read_text() == "precious\n"
    assert "fleet/s1" in git(lf, "alpha", "branch", "--list")
    tmux = lf.run_as(
        "alpha", ["tmux", "-L", "fleet", "has-session", "-t", f"=fleet-{first['id']}"], check=False
    )
    assert tmux.returncode != 0, "the tmux session should be gone after stop"
    # Sending to a stopped session is refused clearly.
    refused = fleet("send", "alpha/s1", "hello")
    assert refused.code == 1 and "not running" in refused.err

    fleet.ok("resume", "alpha/s1")
    resumed = fleet.wait_status("alpha/s1", "idle")
    assert resumed["id"] == first["id"] and resumed["worktree"] == first["worktree"]
    fleet.ok("send", "alpha/s1", "after resume")
    wait_for(
        lambda: "after resume" in received_lines(lf["alpha"], first["id"]),
        what="the resumed agent to receive a message",
    )
    assert (worktree / "agent-work.txt").read_text() == "precious\n"
    again = fleet("resume", "alpha/s1")  # already so: done, and it says so
    assert again.code == 0 and "already running" in again.err


def test_an_exited_agent_shows_its_exit_code(fleet: FleetCLI) -> None:
    fleet.ok("new", "beta", "--repo", "~/repo", "--agent", "recorder", "--name", "quits")
    fleet.wait_status("beta/quits", "idle")
    fleet.ok("send", "beta/quits", "exit 3")
    session = fleet.wait_status("beta/quits", "failed")
    assert session["exit_code"] == 3
    assert "failed (3)" in fleet.ok("ls").out
    # A finished session keeps its last screen, and can be resumed.
    assert "> exit 3" in fleet.ok("screen", "beta/quits").out
    fleet.ok("resume", "beta/quits")
    fleet.wait_status("beta/quits", "idle")
    fleet.ok("send", "beta/quits", "exit 0")
    assert fleet.wait_status("beta/quits", "exited")["exit_code"] == 0


def test_screen_tail_and_session_lookup_by_id_prefix(fleet: FleetCLI) -> None:
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "looky")
    session = fleet.wait_status("alpha/looky", "idle")
    fleet.ok("send", session["id"][:4], "hello there")
    wait_for(
        lambda: "got 11 chars" in fleet.ok("screen", "alpha/looky").out,
        what="the reply on the screen",
    )
    tail = fleet.ok("tail", "alpha/looky", "-n", "5").out
    assert "got 11 chars" in tail
    assert "\x1b" not in tail, "tail must show agent output inert"
    missing = fleet("screen", "nosuchsession")
    assert missing.code == 2 and "no session matches" in missing.err


def test_shell_agent_gets_its_task_typed_once_ready(fleet: FleetCLI) -> None:
    lf = fleet.lf
    fleet.ok(
        "new",
        "alpha",
        "--repo",
        "~/repo",
        "--agent",
        "shell",
        "--name",
        "sh",
        "echo",
        "task-was-typed",
        ">",
        "typed.txt",
    )
    typed = lf["alpha"].home / ".fleet/worktrees/sh/typed.txt"
    wait_for(typed.exists, what="the shell to run the typed task")
    assert typed.read_text() == "task-was-typed\n"


def test_usage_and_operation_errors_have_exit_codes_and_no_traceback(fleet: FleetCLI) -> None:
    bad_host = fleet("new", "nohost", "--repo", "~/repo", "x")
    assert bad_host.code == 2 and "unknown host 'nohost'" in bad_host.err
    bad_agent = fleet("new", "alpha", "--repo", "~/repo", "--agent", "nope", "x")
    assert bad_agent.code == 2 and "unknown agent 'nope'" in bad_agent.err
    not_repo = fleet("new", "alpha", "--repo", "/etc", "--agent", "recorder", "x")
    assert not_repo.code == 1 and "not a git repository" in not_repo.err
    missing_repo = fleet("new", "alpha", "--repo", "~/nope", "--agent", "recorder", "x")
    assert missing_repo.code == 1 and "does not exist" in missing_repo.err
    bad_base = fleet(
        "new", "alpha", "--repo", "~/repo", "--base", "nobranch", "--agent", "recorder", "x"
    )
    assert bad_base.code == 1 and "not found" in bad_base.err
    no_claude = fleet("new", "alpha", "--repo", "~/repo", "fix", "it")  # claude is the default
    assert no_claude.code == 1 and "claude is not installed on this host" in no_claude.err
    assert not (fleet.lf["alpha"].home / ".fleet/worktrees/fix-it").exists()
    usage = fleet("new")
    assert usage.code == 2
    for r in (bad_host, bad_agent, not_repo, missing_repo, bad_base, no_claude, usage):
        assert "Traceback" not in r.err


def test_resume_uses_the_agents_own_conversation_id(fleet: FleetCLI) -> None:
    lf = fleet.lf
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "conv")
    session = fleet.wait_status("alpha/conv", "idle")
    conversation = wait_for(
        lambda: fleet.sessions()["alpha/conv"]["agent_session_id"],
        what="the agent's conversation id to be noticed on its screen",
    )
    assert conversation.startswith("conv-")
    fleet.ok("stop", "alpha/conv")
    fleet.ok("resume", "alpha/conv")
    fleet.wait_status("alpha/conv", "idle")
    argvs = [r["value"] for r in received(lf["alpha"], session["id"]) if r["kind"] == "argv"]
    assert argvs == [[], ["--resumed", conversation]]


PROMPTER = """\
import json, os, sys
path = os.path.expanduser("~/received-%s.jsonl" % os.environ.get("FLEET_SESSION", "none"))
while True:
    sys.stdout.write("Run `rm -rf build`? [y/n] ")
    sys.stdout.flush()
    line = sys.stdin.buffer.readline()
    if not line:
        break
    text = line.decode("utf-8", "replace").rstrip("\\n")
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"kind": "line", "value": text}) + "\\n")
    print("answer taken: %r" % text, flush=True)
"""


def test_a_message_at_a_prompt_is_refused_unless_it_is_an_answer(
    fresh_hosts: LoopbackFleet,
) -> None:
    # Claude Code picks the highlighted option ("Yes") on the Enter after any typed text: a
    # steering message sent while a permission dialog shows would approve the command.
    script = fresh_hosts.dir / "agents" / "prompter.py"
    script.parent.mkdir(exist_ok=True)
    script.parent.chmod(0o755)
    script.write_text(PROMPTER)
    script.chmod(0o644)
    fleet = FleetCLI(
        fresh_hosts,
        f"""
[agents.prompter]
command = "python3 {script}"
waiting = ['\\[y/n\\] ?\\Z']
enter_delay = 0.05
""",
    )
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "prompter", "--name", "p")
    sid = fleet.wait_status("alpha/p", "needs-input")["id"]

    refused = fleet("send", "alpha/p", "please do not delete the build")
    assert refused.code == 1, refused
    assert "waiting at a prompt" in refused.err and "--force" in refused.err
    assert "Traceback" not in refused.err

    fleet.ok("send", "alpha/p", "n")
    wait_for(lambda: received_lines(fresh_hosts["alpha"], sid) == ["n"], what="the answer")
    fleet.ok("send", "--force", "alpha/p", "typed into the prompt on purpose")
    want = ["n", "typed into the prompt on purpose"]
    assert wait_for(
        lambda: (got := received_lines(fresh_hosts["alpha"], sid)) == want and got,
        what="the forced message",
    )
