"""fleet.presentation: the words both faces use for ages, statuses, counts, sizes and lists."""

from __future__ import annotations

import pytest

from fleet.core.fleetstate import HostState
from fleet.core.models import DiffStat, Session, Status
from fleet.presentation import (
    age,
    age_since,
    ago,
    changes,
    host_label,
    host_summary,
    listed_status,
    numbered,
    plural,
    session_status,
    size,
    status_label,
    unread_label,
)

NOW = 1_700_000_000.0


def session(status: Status = Status.IDLE, exit_code: int | None = None) -> Session:
    return Session(
        id="abc123",
        name="fix",
        host="alpha",
        agent="shell",
        status=status,
        branch="fleet/fix",
        worktree="/w",
        repo="/r",
        exit_code=exit_code,
    )


@pytest.mark.parametrize(
    ("n", "word", "many", "said"),
    [
        (0, "file", None, "0 files"),
        (1, "file", None, "1 file"),
        (2, "file", None, "2 files"),
        (1, "hunk", None, "1 hunk"),
        (3, "session", None, "3 sessions"),
        (1, "match", "matches", "1 match"),
        (2, "match", "matches", "2 matches"),
    ],
)
def test_plural(n: int, word: str, many: str | None, said: str) -> None:
    assert plural(n, word, many) == said


def test_numbered() -> None:
    assert numbered("hunk", [3]) == "hunk 3"
    assert numbered("hunk", [1, 2, 5]) == "hunks 1, 2, 5"
    assert numbered("hunk", []) == "no hunks"
    assert numbered("match", [1, 2], "matches") == "matches 1, 2"


@pytest.mark.parametrize(
    ("n", "said"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 kB"),
        (1536, "1.5 kB"),
        (5 * 1024**2, "5.0 MB"),
        (1024**3, "1.0 GB"),
        (int(2.5 * 1024**4), "2.5 TB"),
        (3000 * 1024**4, "3000.0 TB"),
    ],
)
def test_size(n: int, said: str) -> None:
    assert size(n) == said


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (-5, "0s"),
        (0, "0s"),
        (59.9, "59s"),
        (60, "1m"),
        (3599, "59m"),
        (3600, "1h"),
        (3900, "1h05m"),
        (86399, "23h59m"),
        (86400, "1d"),
        (10 * 86400, "10d"),
    ],
)
def test_age(seconds: float, said: str) -> None:
    assert age(seconds) == said


def test_ages_of_a_moment() -> None:
    assert age_since(NOW - 90, NOW) == "1m"
    assert age_since(0, NOW) == "-"  # not known
    assert ago(NOW - 7200, NOW) == "2h ago"
    assert ago(0, NOW) == "-"


def test_status_labels() -> None:
    assert status_label("failed", 3) == "failed (3)"
    assert status_label("exited", 0) == "exited (0)"
    assert status_label("needs-input", None) == "needs-input"
    assert status_label("working", 1) == "working"  # a code only with an end
    assert session_status(session(Status.FAILED, 2)) == "failed (2)"
    assert session_status(session(Status.IDLE)) == "idle"


def test_changes() -> None:
    assert changes(DiffStat()) == "no changes"
    assert changes(DiffStat(14, 3, 1)) == "+14 -3 · 1 file"
    assert changes(DiffStat(1, 0, 2)) == "+1 -0 · 2 files"


def test_unread() -> None:
    assert unread_label(0) == ""
    assert unread_label(4) == "4 new"


def test_listed_status() -> None:
    s = session(Status.EXITED, 0)
    assert listed_status(s, gone=False, lost=False) == "exited (0)"
    assert listed_status(s, gone=True, lost=True) == "gone"  # gone wins
    assert listed_status(s, gone=False, lost=True) == "lost (exited (0) when last seen)"
    cached = listed_status(s, gone=False, lost=True, cached_at=NOW - 120, now=NOW)
    assert cached == "exited (0) (cached 2m ago)"


def test_host_label() -> None:
    assert host_label(HostState("h", "connected"), NOW) == "connected"
    assert host_label(HostState("h", "reconnecting", retry_at=NOW + 4.2), NOW) == (
        "reconnecting in 4s"
    )
    assert host_label(HostState("h", "unreachable", "no\x1b[2J route"), NOW) == (
        "unreachable: no route"
    )


def test_the_top_line_names_hosts_in_a_small_fleet_and_counts_them_in_a_large_one() -> None:
    few = [HostState("a", "connected"), HostState("b", "unreachable", reason="no route")]
    assert host_summary(few, 0.0) == ["a: connected", "b: unreachable: no route"]
    many = [HostState(f"h{i:02}", "connected") for i in range(45)]
    many += [HostState(f"r{i}", "reconnecting", retry_at=5.0) for i in range(6)]
    many.append(HostState("x", "unreachable", reason="refused"))
    (line,) = host_summary(many, 0.0)
    assert line.startswith("52 hosts: ")
    assert "6 reconnecting (r0, r1, r2, r3 +2)" in line and "1 unreachable (x)" in line
    assert line.endswith("45 connected")  # the healthy majority last, the trouble first
    assert len(line) < 120


def test_the_host_summary_names_up_to_four_hosts_and_stays_plain_text() -> None:
    four = [HostState(f"h{i}", "connected") for i in range(4)]
    assert host_summary(four, NOW) == [f"h{i}: connected" for i in range(4)]
    five = [*four, HostState("h4", "connected")]
    assert host_summary(five, NOW) == ["5 hosts: 5 connected"]
    assert host_summary([], NOW) == []
    hostile = HostState("h", "unreachable", reason="no\x1b]0;pwned\x07 route\r\n")
    (line,) = host_summary([hostile], NOW)
    assert "\x1b" not in line and "\x07" not in line and "\r" not in line and "\n" not in line


def test_the_header_keeps_the_counts_whole_and_every_host_in_sight() -> None:
    from fleet.presentation import header_line

    hosts = ["alpha: connected", "beta: connected", "gamma: connected"]
    assert header_line(hosts, "6 working", 120).startswith("alpha: connected  ·  beta")
    narrow = header_line(hosts, "2 needs-input  4 working", 80)
    assert len(narrow) == 78 and narrow.endswith("2 needs-input  4 working")
    assert narrow.startswith("alpha ✓ · beta ✓ · gamma ✓")
    # One host's long reason is cut; the others stay whole.
    long = "beta: unreachable: " + "connection refused " * 10 + "(retry in 4s)"
    line = header_line(["alpha: connected", long, "gamma: connected"], "1 failed", 80)
    assert "alpha ✓" in line and "gamma ✓" in line and "…" in line and line.endswith("1 failed")
    assert len(line) <= 78
    # Too many to name: the rest are counted.
    many = [f"host{i}: unreachable: refused (retry in 3s)" for i in range(8)]
    line = header_line(many, "8 lost", 80)
    assert "more" in line and line.endswith("8 lost") and len(line) <= 78
