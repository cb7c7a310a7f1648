"""What the supervisor tells each host's watch stream about the sessions the person sees."""

from __future__ import annotations

import json

from fleet.core.supervisor.shown import Shown


def lines(sent: list[bytes]) -> list[object]:
    return [json.loads(line)["visible"] for line in sent]


def test_until_told_every_session_counts_as_shown() -> None:
    assert Shown().of("alpha") is None


def test_each_host_hears_only_when_its_part_changes() -> None:
    shown = Shown()
    alpha: list[bytes] = []
    beta: list[bytes] = []
    shown.input("alpha").attach(alpha.append)
    shown.input("beta").attach(beta.append)
    shown.set({("alpha", "a1"), ("alpha", "a2")})
    assert lines(alpha) == [["a1", "a2"]]
    assert lines(beta) == [[]]  # a stream already running hears it has nothing shown
    shown.set({("alpha", "a2"), ("alpha", "a1"), ("beta", "b1")})
    assert lines(alpha) == [["a1", "a2"]] and lines(beta) == [[], ["b1"]]
    assert shown.of("alpha") == {"a1", "a2"} and shown.of("gamma") == frozenset()


def test_a_stream_that_starts_later_gets_the_latest() -> None:
    shown = Shown()
    shown.set({("alpha", "a1")})
    shown.set({("alpha", "a3")})
    got: list[bytes] = []
    shown.input("alpha").attach(got.append)
    assert lines(got) == [["a3"]]
    shown.input("alpha").attach(None)  # the stream ended: updates wait for the next one
    shown.set({("alpha", "a4")})
    assert lines(got) == [["a3"]]
