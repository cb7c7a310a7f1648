"""A stuck agent read from its screen (hostside/stuck.py): signed out, no key, rate-limited,
an API error; and nothing else read so, the model's prose about such things included."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.core.remote.hostside import stuck

SHARED = Path("/work/shared/agent-screens")
SCREENS = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "screens").glob("*.txt"))
SCREENS += sorted(SHARED.glob("*.txt")) if SHARED.is_dir() else []
STUCK = {
    "claude__needs-input__not-logged-in": ("login", "Not logged in · Please run /login"),
    "codex__needs-input__api-key-entry": ("login", "Paste or type your API key below."),
    "gemini__needs-input__auth-method-no-api-key": (
        "login",
        "How would you like to authenticate for this project?",
    ),
}


@pytest.mark.parametrize("path", SCREENS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_recorded_screens(path: Path) -> None:
    got = stuck.read(path.read_text(encoding="utf-8"), path.stem.split("__")[0])
    if path.stem in STUCK:
        kind, reason = STUCK[path.stem]
        assert got == {"kind": kind, "tool": "", "input": reason}
    else:
        assert got is None, path.stem


PROMPT = "\n─────\n❯ \n─────\n  ? for shortcuts"


@pytest.mark.parametrize(
    ("agent", "screen", "kind", "reason"),
    [
        (
            "claude",
            "❯ fix it\n  ⎿  API Error: 529 Overloaded" + PROMPT,
            "error",
            "API Error: 529 Overloaded",
        ),
        (
            "codex",
            "› go\n■ stream error: 429 Too Many Requests\n\n› Ask Codex",
            "error",
            "stream error: 429 Too Many Requests",
        ),
        ("codex", "■ Conversation interrupted - tell the model what to do\n\n› Ask", None, ""),
        ("gemini", "✕ [API Error: quota]\n > Type your message", "error", "[API Error: quota]"),
        # A custom agent: the generic rules only, at the start of a line near the bottom.
        (
            "mine",
            "Error: Rate limit exceeded, retry in 60s\n$ ",
            "error",
            "Error: Rate limit exceeded, retry in 60s",
        ),
        (
            "mine",
            "Rate limit exceeded, retry in 60s\n$ ",
            "error",
            "Rate limit exceeded, retry in 60s",
        ),
        (
            "mine",
            "Not logged in. Run `mine login`.\n> ",
            "login",
            "Not logged in. Run `mine login`.",
        ),
        # The model explaining rate limits is not a stuck agent.
        (
            "claude",
            "● The client retries when the API returns a rate limit (429)." + PROMPT,
            None,
            "",
        ),
        # An error scrolled far up was followed by more work.
        (
            "claude",
            "  ⎿  API Error: 500\n" + "".join(f"line {i}\n" for i in range(12)) + PROMPT,
            None,
            "",
        ),
    ],
)
def test_made_up_screens(agent: str, screen: str, kind: str | None, reason: str) -> None:
    got = stuck.read(screen, agent)
    assert (got and (got["kind"], got["input"])) == ((kind, reason) if kind else None)


def test_a_reason_is_bounded_and_one_line() -> None:
    got = stuck.read("  ⎿  API Error: " + "x" * 5000 + PROMPT, "claude")
    assert got is not None and len(got["input"]) <= stuck.MAX_REASON and "\n" not in got["input"]
