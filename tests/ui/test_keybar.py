"""The key bar: one context's keys, whole items only, the way to all keys kept at the end."""

from __future__ import annotations

from fleet.ui.bindings import effective_keys
from fleet.ui.widgets.keybar import fit, items_for


def shown(key: str) -> str:
    return {"question_mark": "?", "slash": "/", "colon": ":", "escape": "esc"}.get(key, key)


def test_each_context_shows_its_own_keys_and_remaps_show() -> None:
    keys = effective_keys({"message": "M"})
    grid = dict((w, k) for k, w in items_for("grid", keys, shown))
    assert grid["move"] == "hjkl" and grid["message"] == "M" and "approve" not in grid
    diff = dict((w, k) for k, w in items_for("diff", keys, shown))
    assert diff["approve"] == "a" and diff["back"] == "esc" and "message" not in diff


def test_a_narrow_bar_drops_whole_items_and_keeps_the_help() -> None:
    items = items_for("grid", effective_keys(), shown)
    for width in (100, 80, 40, 20):
        line = fit(items, width, ("?", "all keys")).plain
        assert len(line) <= width and line.endswith("? all keys")
        words = line.split("  ")
        assert all(w.strip() for w in words)  # no item cut in half
        whole = {f"{key} {word}" for key, word in items} | {"? all keys"}
        assert {w.strip() for w in words} <= whole, line
    assert "q quit" in fit(items, 100, ("?", "all keys")).plain
    assert "q quit" not in fit(items, 40, ("?", "all keys")).plain
