"""What a waiting agent's screen asks for: a choice, or typed text.

Stdlib only, Python 3.8: this module runs on the hosts (steer.py guards what a person types,
outbox.py holds what fleet types on its own) and is imported locally by the tests.

A choice is a dialog whose Enter picks the highlighted option, whatever was typed before it:
numbered options with one highlighted (Claude Code "❯ 1. Yes", Codex "› 1. Yes, proceed (y)",
Gemini CLI "● 1. Allow once"), a menu with a selection footer ("Enter to select", "enter
confirm", "↑/↓ to navigate": Claude Code's trust dialog, opencode's permission buttons), or a
question on the last line that lists its answers ("(Y)es/(N)o [Yes]:", "[Y/n]", "(y/n)").
At a choice only one of the answers it shows means something: a number within the options,
a key shown in parentheses, y or n where offered; at a menu without numbers, an option's
place (1 for the first: the real-agent tests answer opencode's buttons so). Anything else
is text (a prompt like `What next> `, a question tool that takes words); a text prompt that
asks for a password, passphrase or key is marked secret.

Only the bottom of the screen counts (REGION lines, box edges and rules left out): a dialog
answered earlier and scrolled up is not waiting.
"""

from __future__ import annotations

import re
from typing import FrozenSet, List, NamedTuple, Optional, Tuple

from .classify import tail

CHOICE = "choice"
TEXT = "text"

REGION = 24  # non-blank lines from the bottom
AFTER_OPTIONS = 6  # lines a dialog shows below its last option (hints, footers)

MAX_LINE = 2000  # characters of a line looked at (a pane is far narrower)
_EDGES = ("│", "┃", "|")
_EDGE_LEFT = re.compile(r"^\s*[│┃|]\s?")
_RULE = re.compile(r"^[\s─━═╌╍┄┅┈┉\-_╭╮╰╯┌┐└┘├┤┬┴┼▔▁]*$")
_OPTION = re.compile(r"^(?P<mark>[❯›>▶►→●◉*]\s*)?(?P<n>[1-9][0-9]?)[.)]\s+(?P<label>\S.*)$")
_HOTKEY = re.compile(r"\((?P<key>[A-Za-z0-9])\)\s*$")
_MARKED = re.compile(r"^[❯›▶►→●◉]\s*\S")
_FOOTERS = re.compile(
    r"\benter to (?:select|confirm)\b|\benter (?:confirm|select)\b|⇆ select|↑/↓ to navigate"
    r"|\bpress enter to confirm\b",
    re.IGNORECASE,
)
# aider: "Run shell commands? (Y)es/(N)o/(D)on't ask again [Yes]:" as the last line.
_LETTERED = re.compile(r"\((?P<key>[A-Za-z])\)(?P<rest>[\w']*)")
_LETTERED_END = re.compile(r"\([A-Za-z]\)[^\n]*\[[^\]\n]*\]:\s*$")
# "[Y/n]", "[y/N]", "(y/n)", "(yes/no)", "[yes/no]" at the end of the last line.
_YES_NO = re.compile(r"[\[(]\s*y(?:es)?\s*/\s*n(?:o)?\s*[\])]\s*[?:]?\s*$", re.IGNORECASE)
_SECRET = re.compile(r"\b(?:password|passphrase|api key|token|secret key)\b", re.IGNORECASE)


PLACES = frozenset(str(n) for n in range(1, 10))  # the answers of a menu without numbers


class Dialog(NamedTuple):
    kind: str  # CHOICE or TEXT
    answers: FrozenSet[str] = frozenset()  # at a choice, what picks an option (lowercase)
    secret: bool = False  # a text prompt for a password, passphrase or key

    def takes(self, text: str) -> bool:
        """Whether `text` means something here: at a choice, only one of its answers."""
        return self.kind == TEXT or text.strip().lower() in self.answers

    def said(self) -> str:
        """Its answers for a person: "1, 2, 3 or y" ("" for none)."""
        if self.answers == PLACES:
            return "an option's place: 1 for the first"
        numbers = sorted((a for a in self.answers if a.isdigit()), key=int)
        keys = sorted(a for a in self.answers if len(a) == 1 and not a.isdigit())
        shown = numbers + keys
        if not shown:
            return ""
        return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def _lines(screen: str) -> List[str]:
    """The bottom REGION lines of the screen, without box edges, rules and blanks."""
    out = []
    for line in tail(screen, 0).split("\n")[-4 * REGION :]:
        line = _EDGE_LEFT.sub("", line[:MAX_LINE]).rstrip()
        if line.endswith(_EDGES):
            line = line[:-1]
        line = line.strip()
        if line and not _RULE.match(line):
            out.append(line)
    return out[-REGION:]


Option = Tuple[int, bool]  # its number, and whether it is the highlighted one


def _options(lines: List[str]) -> Tuple[List[Option], int, int]:
    """The last run of numbered options 1, 2, ... and the indexes of the lines holding its
    first and its last option."""
    run = []  # type: List[Option]
    best = []  # type: List[Option]
    start = first = end = -1
    for i, line in enumerate(lines):
        m = _OPTION.match(line)
        if not m:
            continue
        n = int(m.group("n"))
        if n == 1:
            run, start = [], i
        elif not run or n != run[-1][0] + 1:
            run = []
            continue
        run.append((n, bool(m.group("mark"))))
        if len(run) >= 2:
            best, first, end = list(run), start, i
    return best, first, end


def _choice_answers(lines: List[str]) -> Optional[FrozenSet[str]]:
    """The answers of a choice at the bottom of `lines`, None when there is none."""
    footer = any(_FOOTERS.search(line) for line in lines[-AFTER_OPTIONS - 2 :])
    options, first, end = _options(lines)
    near = options and len(lines) - 1 - end <= AFTER_OPTIONS
    if near and (footer or any(marked for _, marked in options)):
        keys = {str(n) for n, _ in options}
        # A key shown after an option, "Yes, proceed (y)", also on its wrapped line.
        for line in lines[first : end + 2]:
            hot = _HOTKEY.search(line)
            if hot:
                keys.add(hot.group("key").lower())
        return frozenset(keys)
    last = lines[-1] if lines else ""
    if _LETTERED_END.search(last):
        keys = set()
        for m in _LETTERED.finditer(last):
            keys.add(m.group("key").lower())
            keys.add((m.group("key") + m.group("rest")).lower())
        return frozenset(keys)
    if _YES_NO.search(last):
        return frozenset(("y", "n", "yes", "no"))
    if footer:
        return PLACES  # a menu picked with the arrow keys, its options unnumbered
    return None


def read(screen: str) -> Dialog:
    """What the screen asks for (see the module's docstring)."""
    lines = _lines(screen)
    answers = _choice_answers(lines)
    if answers is not None:
        return Dialog(CHOICE, answers)
    return Dialog(TEXT, secret=any(_SECRET.search(line) for line in lines[-4:]))
