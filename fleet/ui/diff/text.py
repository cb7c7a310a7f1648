"""Text an agent wrote, made safe to draw on one row, and the words the panel says about it.

No Textual here: plain strings in, plain strings out (cell widths from ``rich.cells``).
Everything an agent wrote (paths, lines, hunk headers) passes through :func:`clean` or
:func:`safe_label` before it reaches a row, so nothing in it can act on the terminal.
"""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size

from fleet.core import review
from fleet.core.textsafe import inert


def clean(text: str, limit: int) -> tuple[str, bool]:
    """One line safe to draw: at most `limit` characters, inert, tabs expanded; and whether
    it was cut. A carriage return inside the line shows as ␍."""
    cut = len(text) > limit
    if cut:
        text = text[:limit]
    if text.isascii() and text.isprintable():
        return text, cut
    try:
        text = review.printable(text)
    except UnicodeError:  # a lone surrogate that surrogateescape cannot carry
        text = text.encode("utf-8", "replace").decode("utf-8")
    text = inert(text).replace("\n", "␍")
    if "\u2028" in text or "\u2029" in text:  # line/paragraph separators break a cell row
        text = text.replace("\u2028", "␤").replace("\u2029", "␤")
    if "\t" in text:
        text = text.expandtabs(4)
    return text, cut


def safe_label(text: str, limit: int = 400) -> str:
    """A path or header for one line: inert, no line breaks."""
    shown, _ = clean(text, limit)
    return shown


def fit(text: str, room: int) -> str:
    """`text` in at most `room` cells, cut with … when longer."""
    if room <= 0:
        return ""
    if cell_len(text) <= room:
        return text
    return set_cell_size(text, room - 1) + "…"


def fit_left(text: str, room: int) -> str:
    """`text` in at most `room` cells, its start cut with … (for paths: the name stays)."""
    if room <= 0:
        return ""
    if cell_len(text) <= room:
        return text
    used = 0
    start = len(text)
    while start > 0:
        w = cell_len(text[start - 1])
        if used + w > room - 1:
            break
        used += w
        start -= 1
    return "…" + text[start:]


def file_description(f: review.FileDiff) -> str:
    """What happened to a file, in words: new file, deleted, binary, mode 100644 → 100755 ..."""
    parts: list[str] = []
    renamed = ""
    for line in f.header.split("\n"):
        if line.startswith("rename from "):
            renamed = line[len("rename from ") :]
    if f.binary:
        parts.append(f"binary, {'new' if f.status == 'added' else f.status}")
    elif f.status == "added":
        parts.append("new file")
    elif f.status == "deleted":
        parts.append("deleted")
    elif f.status == "mode":
        parts.append(f"mode {f.old_mode} → {f.new_mode}")
    else:
        parts.append("modified")
    if f.status == "modified" and f.old_mode and f.new_mode and f.old_mode != f.new_mode:
        parts.append(f"mode {f.old_mode} → {f.new_mode}")
    if renamed:
        parts.append(f"renamed from {safe_label(renamed)}")
    if not f.binary and (f.added or f.removed):
        parts.append(f"+{f.added} -{f.removed}")
    return " · ".join(parts)


def file_kind(f: review.FileDiff) -> str:
    """The file list's four-letter column: new, del, mod, bin, mode."""
    if f.binary:
        return "bin"
    return {"added": "new", "deleted": "del", "mode": "mode"}.get(f.status, "mod")


def hunk_title(f: review.FileDiff, hunk: review.Hunk) -> str:
    """The words on a hunk's header row (its @@ line, or what a collapsed hunk stands for)."""
    if hunk.whole_file:
        return safe_label(hunk.header)
    if f.status == "deleted":
        noun = "line" if hunk.removed == 1 else "lines"
        return f"file deleted · {hunk.removed} {noun} removed"
    return safe_label(hunk.header)


__all__ = [
    "clean",
    "file_description",
    "file_kind",
    "fit",
    "fit_left",
    "hunk_title",
    "safe_label",
]
