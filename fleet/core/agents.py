"""Built-in agent profiles, user overrides, command templates and the screen-status check.

Patterns are matched by fleet.core.remote.hostside.classify (the same code runs on the hosts):
re.MULTILINE over the last `scope` non-blank, right-stripped lines, so `\\Z` means "at the end of
the last non-blank line". They key off stable UI chrome (footer hints, dialog titles, option
lists), never off conversation text. Precedence: waiting > working > idle > timing, so an idle
pattern may also be visible while the agent works, as long as a working pattern covers that case.

Recorded against (see tests/fixtures/screens): Claude Code 2.1, Codex 0.169, aider 0.86,
Gemini CLI 0.61, opencode 1.18. Verified on the live CLI by tests/realagents: Claude Code
2.1.328 and aider 0.86.2. Screens named `*synthetic*` there are written from the CLIs' known
dialogs, not recorded.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping
from dataclasses import fields, replace

from fleet.core.config import KeyPath, ValueChecks, format_key
from fleet.core.models import PROFILE_KEYS, AgentProfile, SendMode, Session, Status
from fleet.core.remote.hostside.classify import classify

TASK = "{task}"
# The shell word holding {task} (with the blanks before it): `claude {task}` -> `claude`,
# `gemini --prompt-interactive={task}` -> `gemini` when there is no task.
_TASK_WORD_RE = re.compile(r"[ \t]*[^\s]*\{task\}[^\s]*")

# A braille spinner frame at the start of a line, also inside a box (│ Gemini, ┃ opencode).
_BRAILLE_SPINNER = r"^[ \t│┃]*[\u2801-\u28ff][ \t]+\S"

CLAUDE = AgentProfile(
    name="claude",
    # fleet's hooks come in a settings file of the session's own (FLEET_SIGNALS); the person's
    # own settings and hooks still apply.
    command='claude --settings "$FLEET_SIGNALS" {task}',
    # --continue picks the latest conversation in this directory: each session has its own
    # worktree, so that is this session's. With its id known, --resume names it exactly.
    resume='claude --settings "$FLEET_SIGNALS" --continue',
    # The exit hint repeats the flags it was started with: "claude --settings … --resume <id>".
    # The hooks give the id too (every payload has it).
    session_id=(
        r"\bclaude\b[^\n]* --resume "
        r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
    ),
    resume_session='claude --settings "$FLEET_SIGNALS" --resume {agent_session}',
    signals="claude",
    waiting=(
        # Footer of every Claude Code dialog: "Esc to cancel · Tab to amend" (permission),
        # "Enter to select · ↑/↓ to navigate · Esc to cancel" (AskUserQuestion).
        r"\bEsc to cancel\b",
        r"\bEnter to (?:select|confirm)\b",
        # Permission dialogs: "Do you want to proceed?", "Do you want to create NOTES.md?",
        # "Do you want to make this edit to util.py?".
        # Indented by at most one space (or a box edge): the model's prose starts with "● " and
        # its continuation lines with two spaces.
        r"^(?:│ )? ?Do you want to (?:proceed|create|make|allow|overwrite|run|fetch|use)\b[^\n]*\?",
        r"No, and tell Claude what to do differently",
        r"Do you trust the files in this folder\?",
        # Onboarding done but no key: the footer says so for as long as it lasts (2.1.328:
        # "Not logged in · run /login"; the failed turn: "Not logged in · Please run /login").
        r"\bNot logged in · (?:Please )?run /login\b",
    ),
    working=(
        r"\besc to interrupt\b",
        # Spinner line: "✶ Flibbertigibbeting… (7s · ↓ 40 tokens)"; a finished turn reads
        # "✻ Brewed for 2s · done 5:37 AM" (no ellipsis).
        r"^[·✢✳✶✻✽*] \S[^\n]*… \(",
    ),
    idle=(
        r"\? for shortcuts",
        r"^❯$",  # the empty input box (its trailing no-break space is stripped)
    ),
    # Typed: Claude Code takes a fast burst of keys for a paste, so a message's newlines stay in
    # it (measured: several lines arrive as one prompt); and a typed "1" picks option 1 of a
    # permission dialog, where a pasted one would not.
    enter_delay=0.15,
    interrupt=("Escape",),
    prose=True,
    description="Claude Code (Anthropic); the task is its first prompt",
    version_command="claude --version",  # "2.1.328 (Claude Code)"
    verified="2.1.328",
)

CODEX = AgentProfile(
    name="codex",
    # `notify` runs fleet's hook at each turn's end (FLEET_SIGNALS holds `notify=[...]`).
    command='codex -c "$FLEET_SIGNALS" {task}',
    resume='codex -c "$FLEET_SIGNALS" resume --last',
    # Printed when Codex 0.169 exits: "To reconnect, run:\n  codex resume <uuid>" (older
    # releases: "To continue this session, run codex resume <uuid>").
    session_id=r"codex resume ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
    resume_session='codex -c "$FLEET_SIGNALS" resume {agent_session}',
    signals="codex",
    waiting=(
        r"Would you like to (?:run the following command|make the following edits"
        r"|grant these permissions)",
        # Footers: approvals "Press enter to confirm or esc to cancel", trust "Press enter to
        # continue", API key entry "Press enter to save", questions "enter to submit answer".
        r"^\s*Press enter to (?:confirm|continue|save|select|submit)\b",
        r"\benter to submit\b",
        r"Yes, proceed \(y\)",
        r"Do you trust the contents of this directory\?",
        # 0.169 in a folder it was not told to trust: "Trust this folder? Codex can read, …",
        # footer "enter continue · esc back".
        r"^\s*Trust this folder\?",
        r"^\s*enter continue · esc back\b",
    ),
    working=(
        # "• Working (10s • esc to interrupt)"
        r"\besc to interrupt\b",
        # While a reply streams the "Working" line is gone: the reply's cell ("• " then lines
        # indented by two) sits right above the input line "› ...", and a finished turn puts
        # "  Worked for 2s • 11:27" between them.
        r"^• [^\n]*(?:\n  (?!Worked for\b)[^\n]*)*\n› [^\n]*(?:\n(?!› )[^\n]*)*\Z",
    ),
    # A finished turn ("Worked for ...") or an interrupted one ("■ Conversation interrupted")
    # right above the input line. Other quiet screens (just started) fall to the timing rule.
    idle=(r"^(?:  Worked for \S[^\n]*|■ [^\n]*)\n› [^\n]*(?:\n(?!› )[^\n]*)*\Z",),
    # Typed text arriving fast is taken for a paste, and an Enter inside it for a newline: a
    # long message typed with send-keys stayed in the box. A bracketed paste submits at once.
    send_mode=SendMode.PASTE,
    enter_delay=0.1,
    interrupt=("Escape",),
    prose=True,
    description="Codex CLI (OpenAI); the task is its first prompt",
    version_command="codex --version",  # "codex-cli 0.169.0"
    verified="0.169.0",
)

AIDER = AgentProfile(
    name="aider",
    # aider has no "first prompt, then stay interactive" flag (--message exits after one turn):
    # fleet types the task once the prompt shows (see first_message).
    command="aider",
    resume="aider --restore-chat-history",
    signals="aider",  # AIDER_NOTIFICATIONS_COMMAND: a prompt is on screen, read it now
    waiting=(
        # A pending confirmation is the LAST line: "Run shell commands? (Y)es/(N)o/(D)on't ask
        # again [Yes]:". An answered one (even with the default, "[Yes]:" then nothing) has
        # output below it, so it is ignored.
        r"\(Y\)es/\(N\)o[^\n]*\[[^\]\n]*\]: ?\Z",
    ),
    working=(
        # The last line is not the input prompt ("diff>", "architect>", "ask>", ">"): aider is
        # streaming (it shows no spinner), running a command, or waiting for the model.
        r"^(?![\w.-]*>(?: |$)).*\Z",
        r"\bWaiting for [\w./:-]+",
    ),
    idle=(
        # The input prompt is the last line, empty or with text the person is typing.
        r"^[\w.-]*>(?: [^\n]*)?\Z",
    ),
    scope=10,
    # Typed, each newline of a message is an Enter and submits a line on its own; a bracketed
    # paste puts the whole message in the prompt (and a one-letter answer in a confirmation).
    send_mode=SendMode.PASTE,
    enter_delay=0.05,
    interrupt=("C-c",),
    prose=True,
    description="aider; the task is typed at its prompt once it is ready",
    version_command="aider --version",  # "aider 0.86.2"
    verified="0.86.2",
)

GEMINI = AgentProfile(
    name="gemini",
    # -i / --prompt-interactive: run the prompt and stay interactive (-p would exit).
    command="gemini --prompt-interactive={task}",
    # Documented as `gemini --resume latest` (also -r, by index or session id) since ~0.20;
    # older releases have no --resume and only the in-app /chat resume.
    resume="gemini --resume latest",
    # Printed in the summary when Gemini CLI 0.61 exits:
    # "To resume this session: gemini --resume <uuid>".
    session_id=r"gemini --resume ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
    resume_session="gemini --resume {agent_session}",
    # Its hooks come in a home of the session's own (GEMINI_CLI_HOME) that links the person's
    # ~/.gemini but for settings.json: their settings, their hooks and then fleet's.
    signals="gemini",
    waiting=(
        r"Allow execution of\b",
        r"Apply this change\?",
        r"Do you want to proceed\?",
        r"Yes, allow (?:once|always)",
        r"Waiting for user confirmation",
        # ask_user: "Enter to select · ↑/↓ to navigate · Esc to cancel" inside a box.
        r"\bEnter to select\b",
        r"Do you trust (?:this folder|the files in this folder)\?",
        # No key yet: "How would you like to authenticate for this project?" (0.61).
        r"How would you like to authenticate\b",
    ),
    working=(
        # "⠸ Thinking... (esc to cancel, 5s)" shown for the whole turn, streaming included.
        r"\(esc to cancel, \d",
        _BRAILLE_SPINNER,
    ),
    idle=(r"Type your message or @path/to/file",),
    # Typed, a "?" never reaches the input box (0.61 takes it as its shortcuts key, even inside
    # a message): a bracketed paste keeps every character, and a pasted "1" still answers.
    send_mode=SendMode.PASTE,
    # An Enter 0.1 s after the first paste of a run was taken into the paste (the message
    # stayed in the box, every time); 0.2 s worked. Later pastes took 0.1 s.
    enter_delay=0.5,
    interrupt=("Escape",),
    prose=True,
    description="Gemini CLI (Google); the task is its first prompt",
    version_command="gemini --version",  # "0.61.0"
    verified="0.61.0",
)

OPENCODE = AgentProfile(
    name="opencode",
    # --prompt sends the first prompt (1.18 does; 1.0.x was reported, sst/opencode#4700, to
    # only prefill the input box, the session then reading idle until someone presses Enter).
    command="opencode --prompt={task}",
    resume="opencode --continue",
    # Printed when opencode 1.18 exits: "Continue  opencode -s ses_<id>".
    session_id=r"\bopencode -s (ses_[0-9A-Za-z]+)",
    resume_session="opencode -s {agent_session}",
    # Its plugin signals are opt-in (`signals = "opencode"`): opencode installs its plugin
    # package into every config dir it loads from the npm registry (1.18.33: first start 23 s
    # instead of 10; with the registry unreachable 80 s, retried at every start).
    waiting=(
        r"Permission required",  # "△ Permission required"
        r"\bAllow once\b.*\bAllow always\b",
        # Dialog footers: "⇆ select  enter confirm"; "enter submit" is assumed for questions.
        r"\benter (?:confirm|submit)\b",
    ),
    working=(
        # Footer while a session is busy: "⬝⬝⬝⬝  esc interrupt" ("esc again to interrupt" once).
        r"\besc (?:again to )?interrupt\b",
        _BRAILLE_SPINNER,
    ),
    idle=(r"\bctrl\+p commands\b",),
    enter_delay=0.1,
    # One Escape only arms it ("esc again to interrupt"); fleet sends keys 0.2 s apart.
    interrupt=("Escape", "Escape"),
    prose=True,
    description="opencode (sst); the task fills its first prompt",
    version_command="opencode --version",  # "1.18.33"
    verified="1.18.33",
)

SHELL = AgentProfile(
    name="shell",
    # A plain interactive shell; a task is typed into it as a command line (see first_message).
    command='exec "${SHELL:-/bin/sh}"',
    resume=None,
    waiting=(
        r"(?i)(?:\[y/n\]|\(y/n\)|\(yes/no[^)\n]*\)\??|password[^\n]*:|passphrase[^\n]*:) ?\Z",
    ),
    working=(),
    idle=(r"[$#%>❯] ?\Z",),  # a prompt at the end of the last line
    scope=5,
    enter_delay=0.05,
    interrupt=("C-c",),
    # Whatever reaches a shell's prompt runs: a rejection note is never typed into it.
    prose=False,
    description="An interactive shell in the worktree; the task is typed as a command",
)

BUILTIN_PROFILES: dict[str, AgentProfile] = {
    profile.name: profile for profile in (CLAUDE, CODEX, AIDER, GEMINI, OPENCODE, SHELL)
}

# The fields whose "" means None: those whose default is None (see AgentProfile).
_NONE_IF_EMPTY = frozenset(
    f.name for f in fields(AgentProfile) if f.name in PROFILE_KEYS and f.default is None
)


def render_command(template: str, task: str) -> str:
    """The shell command for `template` with `{task}` replaced by the shell-quoted task.

    `{task}` must stand unquoted, as a word of its own (`claude {task}`) or glued to an option
    (`--prompt={task}`): it becomes exactly one shell word. With no task (empty or blank) that
    whole word goes, so `claude {task}` runs `claude`. Any other braces stay as written
    (`${HOME}`, `{a,b}`): this is not str.format.
    """
    if TASK not in template:
        return template
    if not task.strip():
        return _TASK_WORD_RE.sub("", template).strip()
    return template.replace(TASK, shlex.quote(task))


def resume_command(profile: AgentProfile, session: Session) -> str:
    """How to bring the agent back in its worktree: by its own conversation id when it showed
    one, else the profile's resume command, else its start command again."""
    if profile.resume_session and session.agent_session_id:
        return profile.resume_session.replace(
            "{agent_session}", shlex.quote(session.agent_session_id)
        )
    return profile.resume or render_command(profile.command, session.task)


def first_message(profile: AgentProfile, task: str) -> str:
    """The task to type into the agent once it is ready, "" when its command carries the task."""
    if not task.strip() or TASK in profile.command:
        return ""
    return task


class _ProfileChecks(ValueChecks):
    """The config file's checks, for fields given in code: errors name the profile."""

    def __init__(self, name: str) -> None:
        self.name = name

    def fail(self, key: KeyPath, message: str) -> ValueError:
        return ValueError(f"agent profile {self.name!r}: {format_key(key)}: {message}")


def _apply(profile: AgentProfile, overrides: Mapping[str, object]) -> AgentProfile:
    name = profile.name
    unknown = sorted(set(overrides) - set(PROFILE_KEYS))
    if unknown:
        raise ValueError(f"agent profile {name!r}: unknown key {unknown[0]!r}")
    # Said first: a new profile without a command is the problem, whatever else it sets.
    command = overrides.get("command", profile.command)
    if isinstance(command, str) and not command.strip():
        raise ValueError(f"agent profile {name!r} needs a command")
    checks = _ProfileChecks(name)
    changes: dict[str, object] = {}
    for key, value in overrides.items():
        checked = checks.profile_value((), key, value)
        changes[key] = None if checked == "" and key in _NONE_IF_EMPTY else checked
    return replace(profile, **changes)  # type: ignore[arg-type]


def resolve_profiles(overrides: Mapping[str, Mapping[str, object]]) -> dict[str, AgentProfile]:
    """The built-in profiles with the user's `[agents.NAME]` tables applied field by field.

    A table named like a built-in changes only the fields it sets (a field given replaces the
    built-in value, pattern lists included); any other name is a new profile and needs a command.
    """
    profiles = dict(BUILTIN_PROFILES)
    for name, settings in overrides.items():
        base = profiles.get(name) or AgentProfile(name=name, command="")
        profiles[name] = _apply(base, settings)
    return profiles


def status_of_screen(profile: AgentProfile, screen: str, quiet_for: float = math.inf) -> Status:
    """The status `profile` reads from `screen`, as `fleet agents check NAME FILE` shows it.

    `quiet_for` is how long the screen has not changed. A saved screen is frozen, so the default
    is infinity: a screen that no pattern matches reads "idle" (pass a small value to see what
    the timing rule says about a screen that is still moving).
    """
    return Status(classify(screen, profile.rules(), quiet_for))
