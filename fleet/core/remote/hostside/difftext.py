"""A diff's text as files and hunks: splitting, fingerprints, selecting hunks, paths.

Pure functions over the text `git diff` prints (see review.py for what that diff holds): no
file, no git. The laptop parses diffs with these same functions (fleet.core.review), so the
host and fleet always agree on what a hunk is and which fingerprint it has.

Hunks are numbered 1..N in diff order across files. A file with no text hunks (a binary file,
a mode change alone, an empty new file) is one hunk: its whole block. A hunk's fingerprint is a
sha256 over its file's `diff --git` line, its old range (`-a,b`, in base coordinates, so edits
elsewhere in the file do not change it) and its exact lines; a whole-file hunk's is over the
whole block. The diff's fingerprint is a sha256 over its exact text.
"""

from __future__ import annotations

import hashlib
import re
from typing import List, Optional

HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
MAX_NOTE = 2000


def lines_of(text: str) -> List[str]:
    """Lines with their "\\n" kept; only "\\n" ends a line (a "\\r" stays part of it)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def split_files(text: str) -> List[dict]:
    """The file blocks of a `git diff`: {"diff", "header", "hunks", "whole"}.

    "header" is the block's text before its first "@@" line; "hunks" the exact text of each
    hunk; a block without text hunks (binary, mode change, empty file) has "whole": True and
    its whole text as its only hunk.
    """
    blocks: List[dict] = []
    current: Optional[dict] = None
    # Lines gather in lists, joined once at the end: `text += line` on a string held in a list
    # copies it every time (quadratic: seconds for one 100,000-line hunk).
    for line in lines_of(text):
        if line.startswith("diff --git "):
            current = {"diff": line.rstrip("\n"), "header": [line], "hunks": [], "whole": False}
            blocks.append(current)
        elif current is None:
            continue  # text before the first file (none in git's output)
        elif line.startswith("@@ ") and HUNK_RE.match(line):
            current["hunks"].append([line])
        elif current["hunks"]:
            current["hunks"][-1].append(line)
        else:
            current["header"].append(line)
    for block in blocks:
        block["header"] = "".join(block["header"])
        block["hunks"] = ["".join(lines) for lines in block["hunks"]]
        if not block["hunks"]:
            block["hunks"] = [block["header"]]
            block["whole"] = True
    return blocks


def _sha(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogateescape"))
        h.update(b"\0")
    return h.hexdigest()


def hunk_fingerprint(block: dict, hunk: str) -> str:
    if block["whole"]:
        return _sha("whole", hunk)
    first, _, body = hunk.partition("\n")
    match = HUNK_RE.match(first)
    old = "%s,%s" % (match.group(1), match.group(2) or "1") if match else first
    return _sha("hunk", block["diff"], old, body)


def diff_fingerprint(text: str) -> str:
    return _sha("diff", text)


def fingerprints(text: str) -> List[str]:
    """Every hunk's fingerprint, in diff order."""
    return [hunk_fingerprint(b, h) for b in split_files(text) for h in b["hunks"]]


def unquote(path: str) -> str:
    """A path as git prints it: C-quoted ("a\\tb", octal escapes for bytes) when special."""
    if not (len(path) >= 2 and path[0] == '"' and path[-1] == '"'):
        return path
    out = bytearray()
    body = path[1:-1].encode("utf-8", "surrogateescape")
    i = 0
    simple = {b"n": b"\n", b"t": b"\t", b'"': b'"', b"\\": b"\\", b"a": b"\a", b"b": b"\b"}
    simple.update({b"f": b"\f", b"r": b"\r", b"v": b"\v"})
    while i < len(body):
        c = body[i : i + 1]
        if c == b"\\" and i + 1 < len(body):
            nxt = body[i + 1 : i + 2]
            octal = body[i + 1 : i + 4]
            # Exactly three octal digits naming a byte (git writes no other); anything else
            # (a diff from a hostile host: "\\9", "\\777") is taken as it stands.
            if len(octal) == 3 and all(48 <= b <= 55 for b in octal) and int(octal, 8) < 256:
                out.append(int(octal, 8))
                i += 4
                continue
            out += simple.get(nxt, nxt)
            i += 2
            continue
        out += c
        i += 1
    return out.decode("utf-8", "surrogateescape")


def block_path(block: dict) -> str:
    """The file a block is about (renames are off, so its old and new paths are the same)."""
    for line in lines_of(block["header"]):
        for prefix, side in (("+++ ", "b/"), ("--- ", "a/")):
            if line.startswith(prefix):
                name = line[len(prefix) :].rstrip("\n")
                if name.endswith("\t"):
                    name = name[:-1]  # git adds a tab after a name with spaces
                name = unquote(name)
                if name.startswith(side):
                    return name[len(side) :]
    rest = block["diff"][len("diff --git ") :]
    if rest.startswith('"'):
        end = rest.index('" ', 1) + 1 if '" ' in rest else len(rest)
        return unquote(rest[:end])[2:]
    size = (len(rest) - 5) // 2  # "a/X b/X"
    return rest[2 : 2 + size] if size > 0 else rest


def select(text: str, wanted) -> str:
    """The patch of the hunks whose fingerprints are in `wanted`: file headers + those hunks."""
    out = []
    for block in split_files(text):
        chosen = [h for h in block["hunks"] if hunk_fingerprint(block, h) in wanted]
        if not chosen:
            continue
        out.append(chosen[0] if block["whole"] else block["header"] + "".join(chosen))
    return "".join(out)


def hunk_names(blocks: List[dict], fps) -> List[str]:
    """The hunks of `blocks` whose fingerprints are in `fps`, as a person reads them."""
    return [
        "%s %s" % (block_path(b), h.split("\n", 1)[0][:60])
        for b in blocks
        for h in b["hunks"]
        if hunk_fingerprint(b, h) in fps
    ]


# -- what a rejection tells the agent --------------------------------------------------------


def changed_lines(hunk: str) -> tuple:
    """(first, last) line numbers of the hunk's changes in the agent's file (the new side,
    context left out); for a pure deletion, the line where the removed lines were."""
    match = HUNK_RE.match(hunk)
    if not match:
        return (0, 0)
    line = int(match.group(3))
    if match.group(4) == "0":
        line += 1  # "+N,0" names the line before the (empty) new side
    added: List[int] = []
    removed_at: List[int] = []
    for text in lines_of(hunk)[1:]:
        tag = text[:1]
        if tag == "+":
            added.append(line)
            line += 1
        elif tag == " ":
            line += 1
        elif tag == "-":
            removed_at.append(line)
    spots = added or removed_at or [line]
    return (min(spots), max(spots))


def _ranges(blocks: List[dict]) -> List[str]:
    out = []
    for block in blocks:
        path = block_path(block)
        for hunk in block["hunks"]:
            first, last = changed_lines(hunk)
            if block["whole"] or not first:
                out.append(path)
            elif first == last:
                out.append("%s line %d" % (path, first))
            else:
                out.append("%s lines %d-%d" % (path, first, last))
    return out


def steering_text(blocks: List[dict], note: str) -> str:
    what = ", ".join(_ranges(blocks))
    text = "fleet review: I rejected and reverted your change to %s" % what
    note = " ".join("".join(c if c.isprintable() else " " for c in note or "").split())
    if note:
        text += ". Note: " + note[:MAX_NOTE]
    return text
