"""Agent profiles, command templates and the screen-status classifier."""

from __future__ import annotations

import ast
import math
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from types import ModuleType

import pytest

from fleet.core import agent_versions, agents
from fleet.core.agents import (
    BUILTIN_PROFILES,
    first_message,
    render_command,
    resolve_profiles,
    status_of_screen,
)
from fleet.core.config import AGENT_KEYS
from fleet.core.models import PROFILE_KEYS, AgentProfile, SendMode, Status
from fleet.core.remote.hostside import classify as classify_module
from fleet.core.remote.hostside import procs
from fleet.core.remote.hostside.classify import classify, normalize, tail

SCREENS = Path(__file__).resolve().parent.parent / "fixtures" / "screens"
SCREEN_FILES = sorted(SCREENS.glob("*.txt"))
RECORDED = [path for path in SCREEN_FILES if "synthetic" not in path.name]


def _meta(path: Path) -> tuple[str, str]:
    agent, status, _what = path.stem.split("__")
    return agent, status


def _rules(**kwargs: object) -> dict[str, object]:
    rules: dict[str, object] = {
        "waiting": [],
        "working": [],
        "idle": [],
        "idle_after": 5.0,
        "scope": 30,
    }
    rules.update(kwargs)
    return rules


# ---------------------------------------------------------------- recorded and synthetic screens


def test_every_recorded_agent_has_all_three_statuses() -> None:
    seen = {_meta(path) for path in RECORDED}
    for agent in ("claude", "codex", "aider", "gemini", "opencode"):
        for status in ("needs-input", "working", "idle"):
            assert (agent, status) in seen, f"no recorded {agent} {status} screen"
    assert len(RECORDED) >= 15


@pytest.mark.parametrize("path", SCREEN_FILES, ids=lambda path: path.stem)
def test_frozen_screen_reads_its_true_status(path: Path) -> None:
    agent, status = _meta(path)
    screen = path.read_text(encoding="utf-8")
    # A frozen screen: the patterns alone (and, failing them, "quiet means idle") decide.
    assert status_of_screen(BUILTIN_PROFILES[agent], screen, quiet_for=1e9) == Status(status)


@pytest.mark.parametrize("path", SCREEN_FILES, ids=lambda path: path.stem)
def test_waiting_and_working_screens_do_not_depend_on_timing(path: Path) -> None:
    agent, status = _meta(path)
    if status == "idle":
        return
    screen = path.read_text(encoding="utf-8")
    assert status_of_screen(BUILTIN_PROFILES[agent], screen, quiet_for=0.0) == Status(status)


@pytest.mark.parametrize("agent", ["claude", "aider", "gemini", "opencode"])
def test_idle_screens_read_idle_at_once_where_an_idle_pattern_exists(agent: str) -> None:
    for path in RECORDED:
        if _meta(path) == (agent, "idle"):
            screen = path.read_text(encoding="utf-8")
            assert status_of_screen(BUILTIN_PROFILES[agent], screen, quiet_for=0.0) == Status.IDLE


def test_codex_streaming_is_told_from_idle_without_timing() -> None:
    # While Codex 0.169 streams a reply its "Working" line is gone; what tells the two apart
    # is the "Worked for ..." line a finished turn puts above the input line.
    codex = BUILTIN_PROFILES["codex"]
    idle = (SCREENS / "codex__idle__after-auto-run-command.txt").read_text(encoding="utf-8")
    streaming = (SCREENS / "codex__working__streaming-reply-without-working-line.txt").read_text(
        encoding="utf-8"
    )
    for quiet_for in (0.0, 1e9):
        assert status_of_screen(codex, idle, quiet_for=quiet_for) == Status.IDLE
        assert status_of_screen(codex, streaming, quiet_for=quiet_for) == Status.WORKING
    interrupted = (
        "› Please explain\n■ Conversation interrupted - use /feedback if something went wrong\n"
        "› Ask Codex to do anything\n  fake-model default · ~/repo\n  ? for shortcuts\n"
    )
    assert status_of_screen(codex, interrupted, quiet_for=0.0) == Status.IDLE
    # A person's own multi-line text in the box does not make a finished turn look busy.
    typing = idle.replace("› Ask Codex to do anything", "› first line\n  second line")
    assert status_of_screen(codex, typing, quiet_for=0.0) == Status.IDLE


def test_codex_quiet_screen_without_a_finished_turn_falls_to_timing() -> None:
    # Just started: no turn yet, no pattern; the timing rule decides.
    codex = BUILTIN_PROFILES["codex"]
    fresh = "  >_ OpenAI Codex (v0.169.0)\n     ~/repo\n› Ask Codex to do anything\n  ? for x\n"
    assert status_of_screen(codex, fresh, quiet_for=0.5) == Status.WORKING
    assert status_of_screen(codex, fresh, quiet_for=codex.idle_after) == Status.IDLE


def test_aider_streaming_reads_working_only_until_the_prompt_returns() -> None:
    aider = BUILTIN_PROFILES["aider"]
    streaming = "diff> explain\n\nSure, let me walk through this codebase.\nIt has two\n"
    assert status_of_screen(aider, streaming) == Status.WORKING
    assert status_of_screen(aider, streaming + "\napp.py util.py\ndiff> \n\n") == Status.IDLE
    assert status_of_screen(aider, streaming + "\narchitect>\n") == Status.IDLE


def test_answered_aider_question_is_not_pending() -> None:
    aider = BUILTIN_PROFILES["aider"]
    answered = "Add .aider* to .gitignore (recommended)? (Y)es/(N)o [Yes]:\nAdded .aider*\ndiff>\n"
    assert status_of_screen(aider, answered) == Status.IDLE
    pending = "Tokens: 1k sent\nRun shell commands? (Y)es/(N)o/(D)on't ask again [Yes]:   \n\n"
    assert status_of_screen(aider, pending) == Status.NEEDS_INPUT


def test_claude_model_prose_does_not_look_like_a_dialog() -> None:
    claude = BUILTIN_PROFILES["claude"]
    prose = "● Done. Do you want to proceed with the README?\n  Do you want to run the tests?\n"
    assert status_of_screen(claude, prose) == Status.IDLE
    dialog = " Bash command\n   ls\n Do you want to proceed?\n ❯ 1. Yes\n   2. No\n"
    assert status_of_screen(claude, dialog) == Status.NEEDS_INPUT


def test_builtin_profiles() -> None:
    assert set(BUILTIN_PROFILES) == {"claude", "codex", "aider", "gemini", "opencode", "shell"}
    for name, profile in BUILTIN_PROFILES.items():
        assert profile.name == name
        assert profile.command and profile.description
        for pattern in (*profile.waiting, *profile.working, *profile.idle):
            re.compile(pattern, re.MULTILINE)
    assert BUILTIN_PROFILES["claude"].resume == 'claude --settings "$FLEET_SIGNALS" --continue'
    assert BUILTIN_PROFILES["codex"].resume == 'codex -c "$FLEET_SIGNALS" resume --last'
    assert BUILTIN_PROFILES["aider"].resume == "aider --restore-chat-history"
    assert BUILTIN_PROFILES["gemini"].resume == "gemini --resume latest"
    assert BUILTIN_PROFILES["opencode"].resume == "opencode --continue"
    assert BUILTIN_PROFILES["shell"].resume is None
    for name in ("claude", "codex", "gemini"):
        assert BUILTIN_PROFILES[name].interrupt == ("Escape",)
    assert BUILTIN_PROFILES["opencode"].interrupt == ("Escape", "Escape")
    for name in ("aider", "shell"):
        assert BUILTIN_PROFILES[name].interrupt == ("C-c",)
    assert BUILTIN_PROFILES["claude"].enter_delay >= 0.15
    assert all(0.05 <= p.enter_delay <= 0.5 for p in BUILTIN_PROFILES.values())


# ---------------------------------------------------------------- classify


def test_precedence_waiting_then_working_then_idle() -> None:
    rules = _rules(waiting=["ASK"], working=["BUSY"], idle=["REST"])
    assert classify("REST\nBUSY\nASK\n", rules, 0.0) == "needs-input"
    assert classify("REST\nBUSY\n", rules, 1e9) == "working"
    assert classify("REST\n", rules, 0.0) == "idle"


def test_timing_rule_when_nothing_matches() -> None:
    rules = _rules(idle_after=5.0)
    assert classify("output\n", rules, 0.0) == "working"
    assert classify("output\n", rules, 4.99) == "working"
    assert classify("output\n", rules, 5.0) == "idle"
    assert classify("output\n", rules, math.inf) == "idle"
    assert classify("", rules, 0.0) == "working"


def test_scope_ignores_a_stale_prompt_above_it() -> None:
    rules = _rules(waiting=[r"Do you want to proceed\?"], scope=30)
    stale = "Do you want to proceed?\n" + "".join(f"line {i}\n" for i in range(30))
    assert classify(stale, rules, 1e9) == "idle"
    fresh = "Do you want to proceed?\n" + "".join(f"line {i}\n" for i in range(29))
    assert classify(fresh, rules, 1e9) == "needs-input"


def test_scope_counts_only_non_blank_lines() -> None:
    rules = _rules(waiting=["^ASK$"], scope=2)
    screen = "ASK   \n\n\n   \n\nlast\n\n\n\n"
    assert classify(screen, rules, 1e9) == "needs-input"
    assert tail(screen, 2) == "ASK\nlast"


def test_end_anchors_see_right_stripped_lines() -> None:
    rules = _rules(idle=[r"^\$\Z"], waiting=[r"\[Yes\]:$"])
    assert classify("x [Yes]:    \nmore\n", rules, 0.0) == "needs-input"
    assert classify("out\n$   \n\n\n", _rules(idle=[r"^\$\Z"]), 0.0) == "idle"


def test_invalid_or_odd_patterns_never_crash() -> None:
    rules = _rules(waiting=["(unclosed", "[", 42, None, "ASK"])
    assert classify("ASK\n", rules, 0.0) == "needs-input"
    assert classify("other\n", _rules(waiting=["(", "*"]), 1e9) == "idle"


def test_missing_or_bad_rule_values_fall_back_to_defaults() -> None:
    assert classify("x\n", {}, 0.0) == "working"
    assert classify("x\n", {}, classify_module.DEFAULT_IDLE_AFTER) == "idle"
    assert classify("x\n", {"scope": "many", "idle_after": None}, 1e9) == "idle"
    assert classify("ASK\n" + "y\n" * 50, {"waiting": ["ASK"], "scope": 0}, 0.0) == "needs-input"


def test_patterns_are_compiled_once() -> None:
    patterns = ["unique-pattern-for-cache-test-1", "unique-pattern-for-cache-test-2"]
    rules = _rules(working=patterns)
    classify("x\n", rules, 0.0)
    before = classify_module._compile.cache_info().hits
    for _ in range(5):
        classify("x\n", _rules(working=list(patterns)), 0.0)
    assert classify_module._compile.cache_info().hits >= before + 5


def test_escapes_are_ignored() -> None:
    rules = _rules(waiting=[r"^Esc to cancel$"])
    assert classify("\x1b[2mEsc to cancel\x1b[0m  \n", rules, 0.0) == "needs-input"
    assert normalize("a  \n\x1b]0;title\x07b\x1b[31m!\x1b[0m\n\n  \n") == "a\nb!"


# Host helper modules fleet also imports on its own side (the classifier for `fleet agents check`,
# the /proc readers for the demo and the tests): each must stand alone, stdlib only.
@pytest.mark.parametrize("module", [classify_module, procs], ids=["classify", "procs"])
def test_helper_module_runs_on_old_pythons_without_fleet(module: ModuleType) -> None:
    source = Path(str(module.__file__)).read_text(encoding="utf-8")
    tree = ast.parse(source, feature_version=(3, 8))
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert all(alias.name.split(".")[0] in stdlib for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and (node.module or "").split(".")[0] in stdlib


# ---------------------------------------------------------------- render_command


TRICKY_TASKS = [
    "fix the bug",
    "it's \"quoted\" and 'single'",
    "a; rm -rf / ; echo pwned",
    "$(touch /tmp/fleet-pwned) `id` ${HOME} $HOME",
    "line one\nline two\n\ttabbed",
    "-n --help",
    "glob * ? [a-z] {a,b} ~ & | > < # !",
    "unicode: ünïcødé ✓ 🚀",
    "  leading and trailing spaces  ",
    "back\\slash \\n",
]


@pytest.mark.parametrize("task", TRICKY_TASKS)
def test_task_stays_one_literal_argument(task: str) -> None:
    command = render_command("printf %s {task}", task)
    result = subprocess.run(["sh", "-c", command], capture_output=True, check=True)
    assert result.stdout.decode("utf-8") == task


def test_task_counts_as_exactly_one_word() -> None:
    command = render_command('set -- {task}; printf "%s" "$#"', "a b\nc; d")
    result = subprocess.run(["sh", "-c", command], capture_output=True, check=True)
    assert result.stdout == b"1"


def test_glued_option_stays_one_word() -> None:
    command = render_command("printf %s --prompt={task}", "two words; $(x)")
    result = subprocess.run(["sh", "-c", command], capture_output=True, check=True)
    assert result.stdout.decode() == "--prompt=two words; $(x)"


def test_no_task_removes_the_placeholder_word() -> None:
    assert render_command("claude {task}", "") == "claude"
    assert render_command("claude {task}", "   \n") == "claude"
    assert render_command("claude {task} --verbose", "") == "claude --verbose"
    assert render_command("gemini --prompt-interactive={task}", "") == "gemini"
    assert render_command("{task}", "") == ""
    assert render_command(BUILTIN_PROFILES["opencode"].command, "") == "opencode"


def test_other_braces_stay_literal() -> None:
    template = "cd ${HOME} && echo {a,b} {0} {} {task} {tasks}"
    assert render_command(template, "x y") == "cd ${HOME} && echo {a,b} {0} {} 'x y' {tasks}"
    assert render_command(template, "") == "cd ${HOME} && echo {a,b} {0} {} {tasks}"
    assert render_command("aider --yes", "anything") == "aider --yes"


def test_first_message_for_agents_without_a_task_slot() -> None:
    assert first_message(BUILTIN_PROFILES["aider"], "fix it") == "fix it"
    assert first_message(BUILTIN_PROFILES["shell"], "make test") == "make test"
    assert first_message(BUILTIN_PROFILES["claude"], "fix it") == ""
    assert first_message(BUILTIN_PROFILES["aider"], "  ") == ""


# ---------------------------------------------------------------- resolve_profiles


def test_no_overrides_gives_the_builtins() -> None:
    assert resolve_profiles({}) == BUILTIN_PROFILES
    assert resolve_profiles({}) is not BUILTIN_PROFILES


def test_override_changes_only_the_fields_given() -> None:
    profiles = resolve_profiles({"claude": {"waiting": ["Custom prompt"], "enter_delay": 0.3}})
    claude = profiles["claude"]
    builtin = BUILTIN_PROFILES["claude"]
    assert claude.waiting == ("Custom prompt",)
    assert claude.enter_delay == 0.3
    assert claude.command == builtin.command
    assert claude.resume == builtin.resume
    assert claude.working == builtin.working
    assert profiles["codex"] == BUILTIN_PROFILES["codex"]
    assert BUILTIN_PROFILES["claude"].waiting != ("Custom prompt",)  # built-ins untouched


def test_new_profile() -> None:
    profiles = resolve_profiles(
        {
            "goose": {
                "command": "goose session {task}",
                "resume": "goose session --resume",
                "waiting": ["Allow\\?"],
                "working": [],
                "idle": ["^\\( O\\)> ?\\Z"],
                "idle_after": 3,
                "scope": 12,
                "send_mode": "paste",
                "enter_delay": 0.2,
                "interrupt": ["Escape", "C-c"],
                "description": "Goose",
            }
        }
    )
    goose = profiles["goose"]
    assert goose == AgentProfile(
        name="goose",
        command="goose session {task}",
        resume="goose session --resume",
        waiting=("Allow\\?",),
        working=(),
        idle=("^\\( O\\)> ?\\Z",),
        idle_after=3.0,
        scope=12,
        send_mode=SendMode.PASTE,
        enter_delay=0.2,
        interrupt=("Escape", "C-c"),
        description="Goose",
    )
    assert set(profiles) == set(BUILTIN_PROFILES) | {"goose"}


def test_new_profile_needs_a_command() -> None:
    with pytest.raises(ValueError, match=r"^agent profile 'x' needs a command$"):
        resolve_profiles({"x": {"waiting": ["?"]}})
    with pytest.raises(ValueError, match="needs a command"):
        resolve_profiles({"x": {"command": "   "}})
    with pytest.raises(ValueError, match="needs a command"):
        resolve_profiles({"claude": {"command": ""}})


@pytest.mark.parametrize(
    "fields",
    [
        {"colour": "red"},
        {"scope": 0},
        {"scope": 2.5},
        {"idle_after": "soon"},
        {"idle_after": -1},
        {"send_mode": "telepathy"},
        {"waiting": [1, 2]},
        {"description": 3},
    ],
)
def test_bad_fields_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="agent profile 'claude'"):
        resolve_profiles({"claude": fields})


def test_only_agents_that_read_prose_are_told_things() -> None:
    # A rejection note typed into a shell runs there: shell and custom agents read no prose
    # unless their profile says so; overriding another field of a built-in keeps its value.
    profiles = resolve_profiles(
        {
            "claude": {"waiting": ("x",)},
            "mine": {"command": "mine"},
            "chat": {"command": "chat", "prose": True},
        }
    )
    readers = {name for name, p in profiles.items() if p.prose}
    assert readers == {"claude", "codex", "aider", "gemini", "opencode", "chat"}
    with pytest.raises(ValueError, match="prose: expected true or false"):
        resolve_profiles({"mine": {"command": "mine", "prose": "yes"}})


def test_every_profile_field_is_a_config_key() -> None:
    # A field without its ProfileValue could be set by no config file.
    assert PROFILE_KEYS == AGENT_KEYS
    assert [f.name for f in fields(AgentProfile)] == ["name", *PROFILE_KEYS]


def test_a_configs_values_resolve_as_they_are() -> None:
    # The config's checked values pass the same checks again (tuples, floats, SendMode).
    fields_given = {
        "command": "mine {task}",
        "waiting": ("Allow\\?",),
        "idle_after": 2.0,
        "send_mode": SendMode.PASTE,
        "interrupt": ("Escape",),
        "sandbox": "bwrap --bind '{worktree}' '{worktree}' --",
        "verified": "",
    }
    mine = resolve_profiles({"mine": fields_given})["mine"]
    assert mine.waiting == ("Allow\\?",) and mine.send_mode is SendMode.PASTE
    assert mine.sandbox == "bwrap --bind '{worktree}' '{worktree}' --"
    assert mine.verified is None


def test_empty_resume_means_no_resume() -> None:
    assert resolve_profiles({"codex": {"resume": ""}})["codex"].resume is None


# ---------------------------------------------------------------- status_of_screen


def test_status_of_screen_defaults_to_a_frozen_screen() -> None:
    shell = BUILTIN_PROFILES["shell"]
    assert status_of_screen(shell, "compiling...\n") == Status.IDLE
    assert status_of_screen(shell, "compiling...\n", quiet_for=0.1) == Status.WORKING
    assert isinstance(status_of_screen(shell, ""), Status)
    assert agents.TASK == "{task}"


# ---------------------------------------------------------------- CLI versions


@pytest.mark.parametrize(
    ("text", "parsed", "shown"),
    [
        ("codex-cli 0.169.0", (0, 169, 0), "0.169.0"),
        ("0.61.0\n", (0, 61, 0), "0.61.0"),
        ("2.1.328 (Claude Code)", (2, 1, 328), "2.1.328"),
        ("aider 0.86.2", (0, 86, 2), "0.86.2"),
        ("opencode v1.18.33-beta.1", (1, 18, 33), "1.18.33-beta.1"),
        ("node-v20 says 1.2", (1, 2), "1.2"),
        ("no version here", None, None),
        ("", None, None),
    ],
)
def test_parse_version(text: str, parsed: tuple[int, ...] | None, shown: str | None) -> None:
    assert agent_versions.parse_version(text) == parsed
    assert agent_versions.version_text(text) == shown


@pytest.mark.parametrize(
    ("found", "verified", "order"),
    [
        ("0.169.0", "0.169.0", 0),
        ("0.170.0", "0.169.0", 1),
        ("0.169.1", "0.169.0", 1),
        ("0.99.0", "0.169.0", -1),  # numbers, not strings: 99 < 169
        ("1.0", "0.169.0", 1),
        ("0.169", "0.169.0", 0),  # a missing part counts as 0
        ("0.169.0.1", "0.169.0", 1),
        ("junk", "0.169.0", None),
    ],
)
def test_compare_versions(found: str, verified: str, order: int | None) -> None:
    assert agent_versions.compare(found, verified) == order


def test_judge_flags_only_a_newer_cli() -> None:
    codex = BUILTIN_PROFILES["codex"]
    assert codex.version_command and codex.verified == "0.169.0"
    newer = agent_versions.judge("h", codex, {"code": 0, "output": "codex-cli 0.170.0"})
    assert newer.newer and newer.version == "0.170.0"
    assert newer.note == "newer than verified 0.169.0: detection may drift"
    same = agent_versions.judge("h", codex, {"code": 0, "output": "codex-cli 0.169.0"})
    assert not same.newer and same.note == ""
    older = agent_versions.judge("h", codex, {"code": 0, "output": "codex-cli 0.160.0"})
    assert not older.newer and older.note == "older than verified 0.169.0"
    missing = agent_versions.judge("h", codex, {"code": 127, "output": "codex: not found"})
    assert missing.version is None and missing.note == "not installed"
    broken = agent_versions.judge("h", codex, {"code": 1, "output": "Error: boom"})
    assert broken.version is None and broken.note == "no version: Error: boom"
    silent = agent_versions.judge("h", codex, {"code": 2, "output": ""})
    assert silent.note == "no version: exit status 2"
    timeout = agent_versions.judge("h", codex, {"error": "no answer in 20 s"})
    assert timeout.version is None and timeout.note == "no answer in 20 s"
    unverified = agent_versions.judge(
        "h", AgentProfile(name="mine", command="mine"), {"code": 0, "output": "9.9.9"}
    )
    assert unverified.version == "9.9.9" and not unverified.newer and unverified.note == ""


def test_version_probe_profiles() -> None:
    for name in ("codex", "gemini", "opencode"):
        profile = BUILTIN_PROFILES[name]
        assert profile.version_command == f"{name} --version"
        assert agent_versions.parse_version(profile.verified or "") is not None
