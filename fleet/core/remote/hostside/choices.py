"""The options of a choice dialog on an agent's screen, and the keys that pick each.

Stdlib only, Python 3.8: this module runs on the hosts (the watcher puts the options in what a
session waits for, answer.py types them) and is imported locally by the tests.

dialog.py tells a choice from a text prompt; this reads the choice itself, for any agent and
custom commands alike, from the bottom of the screen:
- numbered options with one highlighted ("❯ 1. Yes", "› 1. Yes, proceed (y)", "● 1. Allow
  once"): picked by the key shown after it ("(y)") or else its digit;
- an unnumbered menu with a highlight and a footer ("❯ No, exit" / "Yes, I trust this
  folder" / "Enter to confirm"): picked with the arrow keys from the highlighted one, then Enter;
- a row of buttons with a footer ("Allow once   Allow always   Reject   ⇆ select  enter
  confirm"): Right from the first, then Enter;
- a lettered question on the last line ("(Y)es/(N)o/(D)on't ask again [Yes]:") or a yes/no
  one ("Continue? [Y/n]"): the letter, then Enter.
A text prompt (a boxed input line for an API key, `What next> `) has no options: None.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import List, NamedTuple, Optional, Tuple

from . import classify, dialog, protocol
from .classify import tail

NUMBERED = "numbered"
MENU = "menu"
ROW = "row"
LETTERED = "lettered"
YES_NO = "yes-no"

MAX_OPTIONS = protocol.MAX_OPTIONS  # a person picks 1-9 from the grid; more are left out
MAX_LABEL = 200
QUESTION_ABOVE = 8  # lines above the first option searched for its question
CONTEXT_ABOVE = 6  # lines above the first option that are part of what a request is
ID_CHARS = 16
SUBJECT_LINES = 20  # more lines above a question without a blank one are not its subject

_HOTKEY = re.compile(r"\s*\((?P<key>[A-Za-z0-9]|esc)\)\s*$", re.IGNORECASE)
_MARK = re.compile(r"^(?P<pad>\s*[│┃|]?\s*)(?P<mark>[❯›>▶►→●◉])\s+(?P<label>\S.*?)\s*[│┃|]?\s*$")
_ROW_HINT = re.compile(r"ctrl\+|⇆|\benter\b|\besc\b|\bselect\b|\bconfirm\b", re.IGNORECASE)
_LETTER = re.compile(r"^\((?P<key>[A-Za-z])\)(?P<rest>.*)$")
_YES_NO_END = re.compile(
    r"^(?P<q>.*?)\s*[\[(]\s*(?P<y>y(?:es)?)\s*/\s*(?P<n>n(?:o)?)\s*[\])]\s*[?:]?\s*$",
    re.IGNORECASE,
)
_ALLOW = re.compile(r"^(?:yes|allow|approve|accept|proceed|run)\b", re.IGNORECASE)
_DENY = re.compile(r"^(?:no|reject|deny|decline|don'?t allow|cancel)\b", re.IGNORECASE)


class Option(NamedTuple):
    key: str  # what a person names it by: "1", "y" (an unnumbered menu: its place, "1" first)
    label: str
    hotkey: str = ""  # a key the dialog shows for it ("y", "esc"), "" for none


class Choice(NamedTuple):
    style: str
    question: str
    options: Tuple[Option, ...]
    highlighted: int = -1  # the index of the highlighted option, -1 when not shown
    context: str = ""  # the lines just above it (the command, the file): part of its id
    after: str = ""  # the lines below its last option (hints; output that followed an answer)
    subject: Tuple[str, ...] = ()  # a lettered question's block just above it (see _subject)
    command: str = ""  # the last "$ command" shown, its wrapped lines joined (see _command)

    def find(self, wanted: str) -> int:
        """The index of the option `wanted` names (its key, its hotkey or its label, any
        case), -1 for none."""
        w = " ".join(wanted.split()).lower()
        for i, o in enumerate(self.options):
            if w in (o.key.lower(), o.hotkey.lower(), o.label.lower()):
                return i
        return -1

    def allow(self) -> int:
        """The first option that lets the agent go on ("Yes", "Allow once"), -1 for none."""
        return next((i for i, o in enumerate(self.options) if _ALLOW.match(o.label)), -1)

    def deny(self) -> int:
        """The first option that refuses ("No, and tell Claude ...", "Reject"), -1 for none."""
        return next((i for i, o in enumerate(self.options) if _DENY.match(o.label)), -1)

    def keys(self, index: int) -> List[str]:
        """The tmux keys that pick option `index` (a numbered one may still want an Enter:
        answer.py presses it only when the same dialog stays with it highlighted)."""
        o = self.options[index]
        if self.style == NUMBERED:
            if o.hotkey.lower() == "esc":
                return ["Escape"]
            return [o.hotkey or o.key]
        if self.style in (LETTERED, YES_NO):
            return [o.key, "Enter"]
        start = max(self.highlighted, 0)
        if self.style == ROW:
            return ["Left"] * (start - index) + ["Right"] * (index - start) + ["Enter"]
        return ["Up"] * (start - index) + ["Down"] * (index - start) + ["Enter"]

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "options": [{"key": o.key, "label": o.label} for o in self.options],
        }


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 3] + "..."


def _question(lines: List[str], first: int) -> str:
    """The question a dialog asks above its first option: the nearest line ending in "?",
    else the line just above."""
    above = lines[max(0, first - QUESTION_ABOVE) : first]
    for line in reversed(above):
        if line.rstrip().endswith("?"):
            return _short(line)
    return _short(above[-1]) if above else ""


def _context(lines: List[str], first: int) -> str:
    return "\n".join(_short(line) for line in lines[max(0, first - CONTEXT_ABOVE) : first])


def _numbered(lines: List[str]) -> Optional[Choice]:
    found, first, end = dialog._options(lines)
    if not found or len(lines) - 1 - end > dialog.AFTER_OPTIONS:
        return None
    footer = any(dialog._FOOTERS.search(line) for line in lines[-dialog.AFTER_OPTIONS - 2 :])
    if not footer and not any(marked for _, marked in found):
        return None
    options = []  # type: List[Option]
    highlighted = -1
    want = 1
    for line in lines[first : end + 1]:
        m = dialog._OPTION.match(line)
        if not m or int(m.group("n")) != want:
            continue
        label, hotkey = m.group("label"), ""
        hot = _HOTKEY.search(label)
        if hot:
            label, hotkey = label[: hot.start()], hot.group("key").lower()
        if m.group("mark"):
            highlighted = want - 1
        options.append(Option(str(want), _short(label), hotkey))
        want += 1
    question = _question(lines, first)
    context, after = _context(lines, first), "\n".join(lines[end + 1 :])
    return Choice(NUMBERED, question, tuple(options[:MAX_OPTIONS]), highlighted, context, after)


def _raw_bottom(screen: str) -> List[str]:
    return tail(screen, dialog.REGION).split("\n")


def _menu(screen: str) -> Optional[Choice]:
    """An unnumbered vertical menu: the highlighted line and its neighbours whose label starts
    in the same column, above a footer."""
    raw = _raw_bottom(screen)
    footer = [i for i, line in enumerate(raw) if dialog._FOOTERS.search(line)]
    if not footer or len(raw) - 1 - footer[-1] > 2:
        return None
    end = footer[-1]
    for at in range(end - 1, max(-1, end - 1 - dialog.AFTER_OPTIONS - MAX_OPTIONS), -1):
        m = _MARK.match(raw[at])
        if m is None:
            continue
        column = len(raw[at]) - len(raw[at][m.start("label") :])
        rows = [at]
        i = at - 1
        while i >= 0 and _starts_at(raw[i], column):
            rows.insert(0, i)
            i -= 1
        i = at + 1
        while i < end and _starts_at(raw[i], column):
            rows.append(i)
            i += 1
        if len(rows) < 2:
            return None
        options = tuple(
            Option(str(n + 1), _short(_label_at(raw[r], column))) for n, r in enumerate(rows)
        )
        stripped = [line.strip() for line in raw]
        question = _question(stripped, rows[0])
        context = _context(stripped, rows[0])
        after = "\n".join(stripped[rows[-1] + 1 :])
        return Choice(MENU, question, options[:MAX_OPTIONS], rows.index(at), context, after)
    return None


def _starts_at(line: str, column: int) -> bool:
    body = line[column:]
    return (
        len(line) > column
        and not line[:column].strip(" │┃|")
        and bool(body.strip())
        and not body[0].isspace()
        and not dialog._FOOTERS.search(line)
    )


def _label_at(line: str, column: int) -> str:
    return line[column:].rstrip().rstrip("│┃|").rstrip()


def _row(lines: List[str]) -> Optional[Choice]:
    """Buttons on one line with the footer ("Allow once   Allow always   Reject ... ⇆ select")."""
    for at in range(len(lines) - 1, max(-1, len(lines) - 3), -1):
        line = lines[at]
        if "⇆" not in line:
            continue
        parts = [p for p in re.split(r"\s{2,}", line.strip()) if p]
        labels = []
        for part in parts:
            if _ROW_HINT.search(part):
                break
            labels.append(part)
        if len(labels) < 2:
            return None
        options = tuple(Option(str(n + 1), _short(p)) for n, p in enumerate(labels))
        question, context = _question(lines, at), _context(lines, at)
        return Choice(ROW, question, options[:MAX_OPTIONS], -1, context, "\n".join(lines[at + 1 :]))
    return None


def _lettered(last: str) -> Optional[Choice]:
    """aider's "Run shell commands? (Y)es/(N)o/(D)on't ask again [Yes]:"."""
    if not dialog._LETTERED_END.search(last):
        return None
    start = last.find("(")
    body = last[start:]
    body = body[: body.rfind("[")] if "[" in body else body
    default = last[last.rfind("[") + 1 : last.rfind("]")].strip().lower()
    options = []  # type: List[Option]
    highlighted = -1
    for part in body.split("/"):
        m = _LETTER.match(part.strip())
        if m is None:
            continue
        key = m.group("key").lower()
        label = _short(m.group("key") + m.group("rest"))
        if label.lower() == default:
            highlighted = len(options)
        options.append(Option(key, label))
    if len(options) < 2:
        return None
    return Choice(LETTERED, _short(last[:start]), tuple(options[:MAX_OPTIONS]), highlighted)


def _yes_no(last: str) -> Optional[Choice]:
    m = _YES_NO_END.match(last)
    if m is None:
        return None
    yes, no = m.group("y"), m.group("n")
    highlighted = 0 if yes[0].isupper() else 1 if no[0].isupper() else -1
    options = (Option("y", "Yes"), Option("n", "No"))
    return Choice(YES_NO, _short(m.group("q")), options, highlighted)


def _raw(screen: str) -> List[str]:
    """The bottom of the screen as drawn: blank lines and indentation kept."""
    if "\x1b" in screen:
        screen = classify._ANSI_RE.sub("", screen)
    raw = [line[: dialog.MAX_LINE].rstrip() for line in screen.splitlines()[-4 * dialog.REGION :]]
    while raw and not raw[-1]:
        raw.pop()
    return raw


_SHOWN_COMMAND = re.compile(r"^(?P<pad>[ \t]*[│┃|]?[ \t]*)\$ (?P<command>\S.*)$")


def _command(screen: str) -> str:
    """The last "$ command" line on the screen with the lines it wrapped onto: Codex and
    opencode break a long command at spaces, each further line starting where the "$" does
    (the options, a blank line or a side panel's text start elsewhere)."""
    raw = _raw(screen)
    for at in range(len(raw) - 1, -1, -1):
        m = _SHOWN_COMMAND.match(raw[at])
        if m is None:
            continue
        pad, parts = m.group("pad"), [m.group("command").strip()]
        for line in raw[at + 1 : at + 1 + SUBJECT_LINES]:
            more = line[len(pad) :]
            if not line.startswith(pad) or not more or more[0].isspace() or more[0] in "$│┃|":
                break
            parts.append(more.strip())
        return " ".join(parts)[: protocol.MAX_SIGNAL_FIELD]
    return ""


def _subject(screen: str) -> Tuple[str, ...]:
    """The lines a last-line question shows just above it, back to the blank line before them:
    aider prints what it asks about so (the commands of "Run shell commands?", the file of
    "Create new file?"), after an empty line."""
    raw = _raw(screen)
    block = []  # type: List[str]
    for line in reversed(raw[:-1]):
        if not line or len(block) == SUBJECT_LINES:
            break
        block.insert(0, line[: dialog.MAX_LINE])
    return tuple(block) if len(block) < SUBJECT_LINES else ()


def read(screen: str) -> Optional[Choice]:
    """The choice at the bottom of the screen, None when it shows none (see the docstring)."""
    lines = dialog._lines(screen)
    if not lines:
        return None
    got = _numbered(lines) or _menu(screen) or _row(lines)
    if got is None:
        got = _lettered(lines[-1]) or _yes_no(lines[-1])
        if got is not None:
            got = got._replace(context=_context(lines, len(lines) - 1), subject=_subject(screen))
    if got is None or len(got.options) < 2:
        return None
    return got._replace(command=_command(screen))


def fingerprint(choice: Optional[Choice], signal_waiting: Optional[dict], signal_t: object) -> str:
    """The request's id: what the dialog shows (its question, options and the lines above
    them: the command it asks about) and the signal that caused it (its tool, input and time:
    the same command asked twice is two requests)."""
    shown = dict(choice.to_json(), context=choice.context) if choice is not None else None
    caused = [signal_waiting, signal_t] if signal_waiting else None
    text = json.dumps([shown, caused], sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:ID_CHARS]


_COMMAND = re.compile(r"^\$ (?P<command>\S.*)$")
_RUN_SHELL = re.compile(r"^Run shell commands?\?$")


def _from_screen(choice: Choice) -> dict:
    """A dialog no hook reported: a tool request when it shows the command it would run
    ("$ npm test" above its options: Codex, opencode; aider's "Run shell command?" below
    its commands), else a plain choice."""
    if choice.style == LETTERED and _RUN_SHELL.match(choice.question) and choice.subject:
        commands = "; ".join(line.strip() for line in choice.subject)
        return {"kind": "tool", "tool": "shell", "input": commands[: protocol.MAX_SIGNAL_FIELD]}
    for line in reversed(choice.context.split("\n")):
        m = _COMMAND.match(line)
        if m:
            # The line above the options is folded and cut short; the whole command, its
            # wrapped lines joined, when it is the one drawn there.
            shown = m.group("command")
            start = shown[:-3] if shown.endswith("...") else shown
            whole = " ".join(choice.command.split())
            return {
                "kind": "tool",
                "tool": "shell",
                "input": whole if whole.startswith(start) else shown,
            }
    return {"kind": "choice", "tool": "", "input": choice.question}


def waiting(choice: Optional[Choice], sig: Optional[dict]) -> Optional[dict]:
    """What a needs-input session waits for: the signal's tool call or question (if its
    agent said) with the options on screen, or a plain choice; None when neither says.
    `sig` is the session's signal of this run claiming needs-input, or None."""
    said = sig.get("waiting") if isinstance(sig, dict) else None
    said = said if isinstance(said, dict) else None
    if said is None and choice is None:
        return None
    out = dict(said) if said else _from_screen(choice)  # type: ignore[arg-type]
    out["options"] = choice.to_json()["options"] if choice is not None else []
    out["id"] = fingerprint(choice, said, sig.get("t") if said else None)  # type: ignore[union-attr]
    return out


def asked(sig: Optional[dict], run: int) -> Optional[dict]:
    """The signal, when it is of this run and says the agent waits for a person (None else)."""
    if not isinstance(sig, dict) or sig.get("run") != run or sig.get("state") != "needs-input":
        return None
    return sig if isinstance(sig.get("waiting"), dict) else None
