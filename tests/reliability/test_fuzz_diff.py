"""Fuzz the diff parser (fleet.core.review.parse and the host helper's splitting it shares):
whatever text a host sends as a diff, parse raises nothing but UsageError; splitting, paths,
selection and the terminal colouring never raise; numbering is 1..N. Pure units, no host.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.core import review
from fleet.core.errors import UsageError
from fleet.core.remote.hostside import difftext

SETTINGS = settings(max_examples=200, deadline=None)
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

LINES = st.sampled_from(
    [
        "diff --git a/f.txt b/f.txt",
        'diff --git "a/new\\nline" "b/new\\nline"',
        "diff --git a/-rf b/-rf",
        "diff --git a/x b/y",
        "new file mode 100644",
        "deleted file mode 100644",
        "old mode 100644",
        "new mode 100755",
        "new file mode 120000",
        "index 0000000..1111111",
        "--- a/f.txt",
        "+++ b/f.txt",
        "--- /dev/null",
        "+++ b/\x1b]52;c;eA==\x07",
        '+++ "b/\\303\\274\\777"',
        "@@ -1,3 +1,4 @@",
        "@@ -1 +1 @@ def f():",
        "@@ -0,0 +1,2 @@",
        "@@ -99999999999999999999,1 +1 @@",
        "@@ garbage @@",
        " context",
        "-removed",
        "+added \u202e bidi",
        "+\r",
        "\\ No newline at end of file",
        "GIT binary patch",
        "literal 5",
        "zcmZQzU|?i`0",
        "Binary files a/b.bin and b/b.bin differ",
        "rename from a",
        "rename to b",
        "similarity index 90%",
    ]
)
DIFFS = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(LINES, st.text(max_size=12)), max_size=40).map(lambda ls: "\n".join(ls)),
    st.lists(LINES, max_size=30).map(lambda ls: "\n".join(ls) + "\n"),
)


@SETTINGS
@given(DIFFS)
def test_parse_raises_only_usage_error(text: str) -> None:
    try:
        diff = review.parse(text)
    except UsageError:
        return
    assert [h.number for h in diff.hunks] == list(range(1, len(diff.hunks) + 1))
    assert diff.patch(diff.hunks) == difftext.select(text, {h.fingerprint for h in diff.hunks})
    diff.stat()
    diff.to_json()


@SETTINGS
@given(DIFFS)
def test_splitting_paths_selection_and_colour_never_raise(text: str) -> None:
    blocks = difftext.split_files(text)
    for block in blocks:
        difftext.block_path(block)
        for hunk in block["hunks"]:
            difftext.changed_lines(hunk)
    difftext.steering_text(blocks, "note \x1b[31m")
    fps = difftext.fingerprints(text)
    assert difftext.select(text, set(fps)).count("diff --git ") <= text.count("diff --git ")
    shown = review.colorize(text)
    assert not FORBIDDEN.search(re.sub(r"\x1b\[[0-9;]*m", "", shown).replace("\n", "")), ascii(
        shown[:200]
    )


@SETTINGS
@given(st.text(max_size=40))
def test_unquote_never_raises(name: str) -> None:
    difftext.unquote('"' + name + '"')
    difftext.unquote(name)
