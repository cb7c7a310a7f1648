"""A host's tmux server health as the helper says it: checked once (answers.tmux_server), said
the same way by `fleet hosts` and `fleet doctor`, with the fix that fits each state."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.cli import doctor_tmux
from fleet.cli.findings import FAIL, OK
from fleet.core.remote import answers
from fleet.core.remote.untrusted import Malformed
from fleet.core.results import TmuxServer
from fleet.presentation import tmux_label, tmux_words

SSH = "ssh -F cfg alpha"


def said(**fields: Any) -> dict[str, Any]:
    base = {"state": "alive", "detail": "", "socket": "/tmp/tmux-1000/fleet", "pid": 4242}
    base.update(holders=[], how="", stopped=False)
    base.update(fields)
    return base


def test_every_state_is_read_and_a_helper_that_does_not_say_gives_none() -> None:
    assert answers.tmux_server(None) is None
    alive = answers.tmux_server(said())
    assert alive == TmuxServer("alive", "", "/tmp/tmux-1000/fleet", 4242)
    assert alive is not None and alive.ok
    stuck = answers.tmux_server(
        said(state="wedged", how="closes", detail="server exited unexpectedly", holders=[77, 78])
    )
    assert stuck is not None and not stuck.ok and stuck.holders == (77, 78)
    none = answers.tmux_server(said(state="none", pid=None, detail="stale socket"))
    assert none is not None and none.ok and none.pid is None


@pytest.mark.parametrize(
    "bad",
    [
        "alive",
        said(state="dead"),
        said(state="wedged", how="sideways"),
        said(pid=1),
        said(pid="4242"),
        said(holders="77"),
        said(holders=[True]),
        said(stopped="yes"),
        said(detail=["x"]),
    ],
)
def test_a_malformed_health_is_refused(bad: object) -> None:
    with pytest.raises(Malformed):
        answers.tmux_server(bad)


def test_what_a_host_says_of_its_tmux_is_shown_inert() -> None:
    tmux = answers.tmux_server(said(state="error", detail="\x1b]52;c;aGk=\x07 boom \u202e"))
    assert tmux is not None
    words = tmux_words(tmux)
    assert "\x1b" not in words and "\u202e" not in words and "boom" in words


def test_labels_for_fleet_hosts() -> None:
    assert tmux_label(None) == "ok"
    assert tmux_label(TmuxServer("none")) == "ok"
    assert tmux_label(TmuxServer("wedged", how="closes")) == "tmux stuck"
    assert tmux_label(TmuxServer("wedged", how="silent")) == "tmux silent"
    assert tmux_label(TmuxServer("error", detail="x")) == "tmux broken"


def test_a_stuck_server_held_by_fleets_clients_is_repaired_by_doctor() -> None:
    tmux = TmuxServer("wedged", "server exited unexpectedly", pid=4242, holders=(77,), how="closes")
    assert doctor_tmux.needs_repair(tmux)
    [check] = doctor_tmux.check(tmux, SSH)
    assert check.status == FAIL
    assert "server exited unexpectedly" in check.detail and "77" in check.detail
    assert check.fix.startswith("`fleet doctor --repair` ends fleet's control clients")
    assert f"`{SSH} kill 4242`" in check.fix and "no sessions left" in check.fix


def test_a_stuck_server_held_by_another_client_is_the_persons_to_end() -> None:
    tmux = TmuxServer("wedged", pid=4242, how="closes")
    assert not doctor_tmux.needs_repair(tmux)
    assert doctor_tmux.fix(tmux, SSH).startswith("a client that is not fleet's holds it")


def test_a_silent_server_is_never_repaired_and_the_fix_warns_of_its_agents() -> None:
    stopped = TmuxServer("wedged", pid=4242, how="silent", stopped=True, holders=(77,))
    assert not doctor_tmux.needs_repair(stopped)
    fix = doctor_tmux.fix(stopped, SSH)
    assert fix.startswith(f"it is stopped: `{SSH} kill -CONT 4242`")
    assert "ends it and every agent in it" in fix
    assert "does not answer (stopped)" in tmux_words(stopped)


def test_no_server_is_fine_and_a_stale_socket_is_removed_on_repair() -> None:
    none = TmuxServer("none", socket="/tmp/tmux-1000/fleet")
    [check] = doctor_tmux.check(none, SSH)
    assert check.status == OK and not doctor_tmux.needs_repair(none)
    stale = TmuxServer("none", "stale socket", socket="/tmp/tmux-1000/fleet")
    assert doctor_tmux.needs_repair(stale)
    assert "harmless" in tmux_words(stale)
    assert doctor_tmux.check(None, SSH) == []


def test_a_repair_answer_is_read() -> None:
    repaired = answers.tmux_repair({"done": ["ended 77"], "after": said(state="none")})
    assert repaired.done == ("ended 77",) and repaired.after.state == "none"
    with pytest.raises(Malformed):
        answers.tmux_repair({"done": ["x"]})
    with pytest.raises(Malformed):
        answers.tmux_repair({"done": "x", "after": said()})
