"""Terminal notifications carry agent-influenced text inert: nothing can end the sequence."""

from fleet.ui.app import terminal_alert


def test_osc_sequences_are_inert() -> None:
    hostile = "alpha/x needs you\x07\x1b]52;c;AAAA\x07; rm -rf"
    for mode, prefix in (("osc9", "\x1b]9;"), ("osc777", "\x1b]777;notify;fleet;")):
        seq = terminal_alert(mode, hostile)
        assert seq.startswith(prefix) and seq.endswith("\x07")
        body = seq[len(prefix) : -1]
        assert "\x07" not in body and "\x1b" not in body and ";" not in body
        assert "alpha/x needs you" in body
    assert terminal_alert("bell", "x") == "" and terminal_alert("off", "x") == ""
