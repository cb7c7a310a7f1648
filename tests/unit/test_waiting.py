"""What a waiting session carries, from the host to the faces: its options and request id
checked once where they enter (untrusted.py), kept whole in the store's waiting column."""

from __future__ import annotations

import json

import pytest

from fleet.core.models import Waiting, WaitingOption
from fleet.core.remote.untrusted import Malformed, _waiting
from fleet.core.store.records import _waiting as stored

GOOD = {
    "kind": "choice",
    "tool": "",
    "input": "Do you want to proceed?",
    "options": [{"key": "1", "label": "Yes"}, {"key": "2", "label": "No"}],
    "id": "0123456789abcdef",
}


def test_a_choice_with_its_options_and_id_is_read() -> None:
    got = _waiting(GOOD)
    assert got == Waiting(
        "choice",
        "",
        "Do you want to proceed?",
        (WaitingOption("1", "Yes"), WaitingOption("2", "No")),
        "0123456789abcdef",
    )
    assert got.to_json() == GOOD


def test_a_waiting_of_an_older_helper_has_no_options() -> None:
    got = _waiting({"kind": "tool", "tool": "Bash", "input": "npm test"})
    assert got is not None and got.options == () and got.id == ""


@pytest.mark.parametrize(
    "bad",
    [
        {"options": [{"key": "1; rm", "label": "x"}]},  # a key is a short word, nothing else
        {"options": [{"key": str(n), "label": "x"} for n in range(1, 12)]},  # too many
        {"options": "1. Yes"},
        {"options": [["1", "Yes"]]},
        {"id": "not hex!"},
        {"id": 7},
    ],
)
def test_what_a_host_cannot_send_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(Malformed):
        _waiting(GOOD | bad)


def test_labels_arrive_inert_and_bounded() -> None:
    got = _waiting(GOOD | {"options": [{"key": "1", "label": "\x1b[2J[b]Yes[/b]" + "x" * 900}]})
    assert got is not None
    label = got.options[0].label
    assert "\x1b" not in label and len(label) <= 200


def test_the_store_keeps_the_whole_object() -> None:
    got = _waiting(GOOD)
    assert got is not None
    assert stored(json.dumps(got.to_json())) == got
    assert stored(json.dumps({"kind": "tool", "tool": "Bash", "input": "ls"})) == Waiting(
        "tool", "Bash", "ls"
    )
