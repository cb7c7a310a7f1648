"""What a waiting session's card and `fleet ls` say it waits for, in one line."""

from __future__ import annotations

import pytest

from fleet.core.models import Waiting
from fleet.presentation import waiting_line


@pytest.mark.parametrize(
    ("waiting", "line"),
    [
        (None, ""),
        (Waiting("tool", "Bash", "npm test"), "wants to run Bash: npm test"),
        (Waiting("question", "", "Which file?"), "asks: Which file?"),
        (
            Waiting("login", "", "Not logged in · Please run /login"),
            "login: Not logged in · Please run /login",
        ),
        (Waiting("login"), "needs a login"),
        (Waiting("error", "", "API Error: 529"), "error: API Error: 529"),
        (
            Waiting("error", "Bash", "running for over 10 min: npm test"),
            "error: Bash running for over 10 min: npm test",
        ),
        (Waiting("error"), "stopped on an error"),
    ],
)
def test_waiting_line(waiting: Waiting | None, line: str) -> None:
    assert waiting_line(waiting) == line
