"""Terminal notifications carry agent-influenced text inert: nothing can end the sequence."""

from fleet.core.models import Status
from fleet.ui.alerts import announcement, terminal_alert


def test_osc_sequences_are_inert() -> None:
    hostile = "alpha/x needs you\x07\x1b]52;c;AAAA\x07; rm -rf"
    for mode, prefix in (("osc9", "\x1b]9;"), ("osc777", "\x1b]777;notify;fleet;")):
        seq = terminal_alert(mode, hostile)
        assert seq.startswith(prefix) and seq.endswith("\x07")
        body = seq[len(prefix) : -1]
        assert "\x07" not in body and "\x1b" not in body and ";" not in body
        assert "alpha/x needs you" in body
    assert terminal_alert("bell", "x") == "" and terminal_alert("off", "x") == ""


def test_only_the_statuses_a_person_must_see_are_announced() -> None:
    assert announcement("a/fix", Status.NEEDS_INPUT, None) == ("a/fix needs you", "warning")
    assert announcement("a/fix", Status.FAILED, 3) == ("a/fix failed (3)", "error")
    assert announcement("a/fix", Status.EXITED, 0) == ("a/fix finished (0)", "information")
    assert announcement("a/fix", Status.WORKING, None) is None
    assert announcement("a/fix", Status.IDLE, None) is None
