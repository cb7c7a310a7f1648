"""fleet.core.textsafe: agent output made inert before it reaches a person's terminal."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.core.textsafe import inert, inert_bytes

ESC = "\x1b"
BEL = "\x07"
ST = ESC + "\\"
# What must never survive: ESC, C0 controls other than \n and \t, DEL and C1, bidi controls.
FORBIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        # CSI: colours, cursor moves, private modes, erase, with intermediates.
        (f"a{ESC}[31mred{ESC}[0m b", "ared b"),
        (f"{ESC}[2J{ESC}[H{ESC}[?1049h{ESC}[?25lscreen", "screen"),
        (f"x{ESC}[1;31;4mbold{ESC}[38;5;196m{ESC}[48;2;1;2;3my", "xboldy"),
        (f"{ESC}[3 qcursor", "cursor"),  # CSI with an intermediate byte (DECSCUSR)
        # OSC 52 (set the clipboard) with BEL and with ST.
        (f"a{ESC}]52;c;ZWNobyBwd25lZA=={BEL}b", "ab"),
        (f"a{ESC}]52;c;ZWNobyBwd25lZA=={ST}b", "ab"),
        # OSC 8 hyperlinks: the link goes, the visible text stays.
        (f"{ESC}]8;;https://evil.example/{ST}click{ESC}]8;;{ST}", "click"),
        (f"{ESC}]8;;https://evil.example/{BEL}click{ESC}]8;;{BEL}", "click"),
        # OSC 0/2 window title.
        (f"{ESC}]0;pwned title{BEL}text", "text"),
        (f"{ESC}]2;pwned title{ST}text", "text"),
        # An OSC never terminated swallows the rest (it would in a terminal too).
        (f"ok{ESC}]0;title with no end", "ok"),
        # DCS (e.g. DECRQSS / tmux passthrough), SOS, PM, APC, with ST.
        (f"a{ESC}P1$r0m{ST}b", "ab"),
        (f"a{ESC}Ptmux;{ESC}{ESC}]52;c;eA=={BEL}{ST}b", "ab"),
        (f"a{ESC}_apc payload{ST}b{ESC}^pm{ST}c{ESC}Xsos{ST}d", "abcd"),
        # 8-bit C1 CSI and other C1 controls.
        ("a\x9b31mred\x9b0m", "ared"),
        ("a\x9d0;title\x9cb\x85c\x8ed", "a0;titlebcd"),
        # Two-byte escapes (charset, keypad, save cursor) and a lone ESC.
        (f"{ESC}(0box{ESC}(B{ESC}={ESC}7{ESC}8{ESC}c", "box"),
        (f"end{ESC}", "end"),
        (f"a{ESC}{ESC}[1mb", "ab"),
        (
            f"a{ESC}b",
            "a",
        ),  # ESC + a final byte is a two-byte escape: both go, as a terminal eats them
        # NUL and other C0 controls go; \n and \t stay; CR becomes a line break.
        ("a\x00b\x01c\x07d\x08e\x0bf\x0cg\x0eh\x1fi\x7fj", "abcdefghij"),
        ("line1\nline2\tcol", "line1\nline2\tcol"),
        ("a\r\nb\rc", "a\nb\nc"),
        # Bidi overrides and isolates (Trojan Source) go.
        ("admin\u202e\u2066 // check\u2069\u2066", "admin // check"),
        ("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069x", "x"),
        # Ordinary unicode stays: accents, CJK, emoji, box drawing, RTL script itself.
        ("ünïcødé → ✓ 漢字 🚀 │┃╭─╮ שלום", "ünïcødé → ✓ 漢字 🚀 │┃╭─╮ שלום"),
        ("", ""),
    ],
)
def test_inert_removes_escapes_and_controls(raw: str, want: str) -> None:
    assert inert(raw) == want


def test_invalid_utf8_bytes_become_replacement_characters() -> None:
    out = inert_bytes(b"ok \xff\xfe bad \xc3( \xe2\x82 end")
    assert out.startswith("ok ") and out.endswith(" end")
    assert "\ufffd" in out
    assert not FORBIDDEN.search(out)


def test_inert_bytes_removes_utf8_encoded_c1_and_raw_escapes() -> None:
    # U+009B encoded in UTF-8 is the 8-bit CSI as a terminal in UTF-8 mode reads it.
    assert inert_bytes(b"a\xc2\x9b31mred\x1b]52;c;eA==\x07 \x1b[0mz") == "ared z"
    assert inert_bytes("ünï ✓".encode()) == "ünï ✓"


def _best_time(text: str, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        inert(text)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize(
    "unit",
    [
        f"{ESC}[" + "1;" * 20,  # CSI parameters with no final byte
        f"{ESC}]" + "t" * 20,  # OSC with no terminator (one match to the end)
        f"{ESC}]x{ESC}",  # OSC cut by an ESC that is not ST
        f"{ESC}P" + "d" * 10,  # DCS with no ST
        "\x9b" + "0" * 15,  # 8-bit CSI with no final byte
        f"{ESC}{ESC}[",
        "plain text ünï ",
        "\x00\x01\u202e\x7f\x9b",
    ],
    ids=["csi-open", "osc-open", "osc-esc", "dcs-open", "c1-csi-open", "esc-esc", "plain", "ctl"],
)
def test_a_megabyte_line_stays_linear(unit: str) -> None:
    """No catastrophic backtracking: 2 MB of hostile input costs about 40x what 50 KB does
    (a quadratic pattern would cost 1,600x). The bound leaves 10x for a loaded machine."""
    small = unit * (50_000 // len(unit))
    big = unit * (2_000_000 // len(unit))
    t_small = max(_best_time(small), 1e-5)
    t_big = _best_time(big)
    assert t_big / t_small < 400, f"50 KB: {t_small:.5f} s, 2 MB: {t_big:.4f} s"
    assert not FORBIDDEN.search(inert(big))


# Text biased towards what matters: escape starts, terminators, C0/C1, bidi, plus anything.
_PIECES = st.sampled_from(
    [
        *(ESC, "[", "]", "P", "\\", BEL, "\x9b", "\x9c", "\x9d", "\r", "\n", "\t", ";", "0", "m"),
        *("\x00", "\x7f", "\u202e", "\u2066", "a", "ü", "漢"),
    ]
)
_TEXT = st.one_of(
    st.text(),
    st.lists(st.one_of(_PIECES, st.text(max_size=3)), max_size=60).map("".join),
)


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_fuzz_output_has_no_escape_no_control_no_bidi(text: str) -> None:
    out = inert(text)
    assert not FORBIDDEN.search(out), ascii(out)
    assert inert(out) == out  # inert is idempotent


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cc", "Cs"])))
def test_fuzz_text_without_controls_is_unchanged_except_bidi(text: str) -> None:
    expected = re.sub("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]", "", text)
    assert inert(text) == expected


@settings(max_examples=200, deadline=None)
@given(st.binary())
def test_fuzz_any_bytes(data: bytes) -> None:
    assert not FORBIDDEN.search(inert_bytes(data))
