"""fleet.ui.widgets.card: one card as strips, a pure function of the card, styles and width."""

from __future__ import annotations

import pytest
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from fleet.core.models import DiffStat, Status
from fleet.ui.model import Card, FleetModel
from fleet.ui.widgets.card import CARD_HEIGHT, TAIL_SHOWN, card_styles, draw_card, spread
from tests.ui import make_session

STYLES = card_styles(Style(), {"accent": "#ff0000", "status-needs-input": "#ffa62b"})


def card(
    status: Status = Status.WORKING, *, name: str | None = None, diff: DiffStat | None = None
) -> Card:
    model = FleetModel()
    model.mark_host("h", "connected")
    model.upsert_session(make_session("h", 1, status, name=name, diff=diff))
    model.set_screen("h", "s1", "one\ntwo\nthree\nfour\n")
    return model.cards[("h", "s1")]


def text(strip: Strip) -> str:
    return "".join(seg.text for seg in strip)


@pytest.mark.parametrize("width", [0, 3, 10, 44, 120])
def test_a_card_is_its_height_and_exactly_its_width(width: int) -> None:
    strips = draw_card(card(), STYLES, width, cursor=False, pulsing=False, dynamic="for 3m")
    assert len(strips) == CARD_HEIGHT
    assert all(s.cell_length == width for s in strips)


def test_a_card_says_who_what_and_how_long_in_words() -> None:
    c = card(Status.NEEDS_INPUT, name="fix-auth", diff=DiffStat(12, 3, 4))
    lines = [text(s) for s in draw_card(c, STYLES, 60, cursor=False, pulsing=False, dynamic="x")]
    assert lines[0].startswith("╭─ h/fix-auth ") and lines[0].rstrip().endswith("claude ─╮")
    assert "◆ needs-input · x" in lines[1]
    assert "+12 -3 · 4 files" in lines[2]
    assert [line.strip("│ ") for line in lines[3 : 3 + TAIL_SHOWN]] == ["two", "three", "four"]
    assert lines[-1].startswith("╰") and lines[-1].endswith("╯")


def test_the_cursor_is_a_shape_not_only_a_colour() -> None:
    c = card()
    plain = draw_card(c, STYLES, 50, cursor=False, pulsing=False, dynamic="")
    heavy = draw_card(c, STYLES, 50, cursor=True, pulsing=False, dynamic="")
    assert text(plain[0])[0] == "╭" and text(heavy[0])[0] == "┏"
    assert text(heavy[1])[0] == "┃" and text(heavy[-1])[0] == "┗"


def test_a_pulsing_card_is_reversed_and_a_long_title_is_cut() -> None:
    c = card(name="a-very-long-session-name-that-cannot-fit-in-a-narrow-card")
    strips = draw_card(c, STYLES, 30, cursor=False, pulsing=True, dynamic="")
    assert all(seg.style is not None and seg.style.reverse for s in strips for seg in s)
    assert "…" in text(strips[0])


def test_spread_pushes_the_right_part_to_the_edge_and_cuts_the_left_first() -> None:
    base = Style()
    out = spread([Segment("left")], "3 new", base, 20, base)
    assert "".join(s.text for s in out) == "left" + " " * 11 + "3 new"
    out = spread([Segment("a long left part")], "3 new", base, 12, base)
    assert "".join(s.text for s in out) == "a lon… 3 new"  # a space always between
    out = spread([Segment("left")], "too wide", base, 6, base)  # no room: the right goes
    assert "".join(s.text for s in out) == "left"
