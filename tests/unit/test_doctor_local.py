"""`fleet doctor`'s checks of this machine's terminal (no host, no real terminal needed)."""

from __future__ import annotations

import io

from fleet.cli.doctor import FAIL, OK, WARN, Check, render, terminal_checks


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        raise OSError("no real terminal")  # so no size is known: the size check is skipped


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def test_a_good_terminal() -> None:
    env = {"TERM": "xterm-256color", "LANG": "C.UTF-8"}
    found = by_name(terminal_checks(env, FakeTerminal()))
    assert list(found) == ["terminal", "colours", "locale"]
    assert all(c.status == OK for c in found.values())
    assert found["colours"].detail == "256 colours"


def test_output_that_is_not_a_terminal_and_a_plain_locale() -> None:
    env = {"TERM": "xterm", "LANG": "C", "COLORTERM": "truecolor"}
    found = by_name(terminal_checks(env, io.StringIO()))
    assert found["terminal"].status == WARN and "not a terminal" in found["terminal"].detail
    assert found["colours"].detail == "truecolor (COLORTERM)"
    assert found["locale"].status == WARN and "LANG=C.UTF-8" in found["locale"].fix


def test_a_dumb_terminal_cannot_draw_and_no_color_is_said() -> None:
    found = by_name(terminal_checks({"TERM": "dumb", "NO_COLOR": "1"}, FakeTerminal()))
    assert found["terminal"].status == FAIL
    assert found["colours"].status == WARN and "NO_COLOR" in found["colours"].detail


def test_eight_colours_are_a_warning() -> None:
    found = by_name(terminal_checks({"TERM": "vt100", "LANG": "en_US.UTF-8"}, FakeTerminal()))
    assert found["colours"].status == WARN and "8 colours" in found["colours"].detail


def test_render_counts_in_words() -> None:
    out = io.StringIO()
    render([Check("a", WARN, "x", "fix a"), Check("b", FAIL, "y", "fix b", host="h")], out)
    text = out.getvalue()
    assert text.startswith("this machine\n") and "\nh\n" in text and "fix: fix a" in text
    assert text.endswith("1 failed, 1 warning: see the fix lines above\n")
    out = io.StringIO()
    render([Check("a", OK, "fine")], out)
    assert out.getvalue().endswith("all good\n")
