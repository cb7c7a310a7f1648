"""Themes: the built-in TOML themes, user themes, broken ones, and the remembered choice."""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from textual.app import App, ComposeResult
from textual.color import Color
from textual.widgets import Static

from fleet.ui import themes
from fleet.ui.themes import (
    DEFAULT_THEME,
    STATUS_VARIABLES,
    builtin_theme_dir,
    load_themes,
    register_all,
    save_theme,
    saved_theme,
    user_theme_dir,
)

if TYPE_CHECKING:  # tests/ui is not a package: the fixture's type is for readers only
    from tests.ui.conftest import UiDirs

REPO = Path(__file__).resolve().parents[2]
BUILTIN = ("fleet-dark", "fleet-light", "fleet-high-contrast")


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two opaque colours."""

    def luminance(text: str) -> float:
        def channel(v: int) -> float:
            c = v / 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        color = Color.parse(text)
        return 0.2126 * channel(color.r) + 0.7152 * channel(color.g) + 0.0722 * channel(color.b)

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def builtin() -> dict[str, themes.Theme]:
    loaded, warnings = load_themes()
    assert warnings == []
    return {t.name: t for t in loaded}


# --------------------------------------------------------------------------- built-ins


def test_builtin_themes_load_with_every_status_colour() -> None:
    loaded = builtin()
    assert list(loaded) == sorted(BUILTIN)  # files in name order; nothing else in the folder
    assert DEFAULT_THEME in loaded
    for theme in loaded.values():
        assert set(STATUS_VARIABLES) <= set(theme.variables), theme.name
        for name in STATUS_VARIABLES:
            Color.parse(theme.variables[name])
        for field in ("primary", "secondary", "accent", "foreground", "background"):
            assert getattr(theme, field), (theme.name, field)
        status_colours = [theme.variables[n].lower() for n in STATUS_VARIABLES]
        assert len(set(status_colours)) == len(status_colours), theme.name
    assert loaded["fleet-light"].dark is False
    assert loaded["fleet-dark"].dark and loaded["fleet-high-contrast"].dark


@pytest.mark.parametrize("name", BUILTIN)
def test_needs_input_is_the_loudest_status(name: str) -> None:
    theme = builtin()[name]
    assert theme.background is not None
    loudness = {n: contrast(theme.variables[n], theme.background) for n in STATUS_VARIABLES}
    assert max(loudness, key=loudness.__getitem__) == "status-needs-input", loudness
    assert Color.parse(theme.variables["status-needs-input"]).hsl.s >= 0.8  # a real colour


@pytest.mark.parametrize(("name", "least"), [("fleet-dark", 4.5), ("fleet-light", 4.5),
                                              ("fleet-high-contrast", 7.0)])  # fmt: skip
def test_status_colours_are_readable_on_the_background(name: str, least: float) -> None:
    theme = builtin()[name]
    assert theme.background is not None and theme.foreground is not None
    assert contrast(theme.foreground, theme.background) >= (15 if "contrast" in name else 7)
    for variable in STATUS_VARIABLES:
        assert contrast(theme.variables[variable], theme.background) >= least, variable


def test_builtin_dir_from_a_checkout_and_from_a_wheel(tmp_path: Path) -> None:
    # Here (a checkout / editable install) the folder is <repo>/themes.
    assert builtin_theme_dir() == REPO / "themes"
    # In a wheel, pyproject force-includes that folder as fleet/themes ...
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    force = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert force["themes"] == "fleet/themes"
    # ... and a fleet/themes folder inside the package wins over the checkout's.
    packaged = tmp_path / "site-packages" / "fleet" / "themes"
    checkout = tmp_path / "repo" / "themes"
    assert themes._find_builtin_dir(packaged, checkout) == checkout  # not there: checkout
    packaged.mkdir(parents=True)
    assert themes._find_builtin_dir(packaged, checkout) == packaged
    assert themes._find_builtin_dir(None, checkout) == checkout  # a zip import


def test_user_theme_dir_is_beside_the_default_config(ui_dirs: UiDirs) -> None:
    assert user_theme_dir() == ui_dirs.theme_dir
    # --config / $FLEET_CONFIG elsewhere do not move the themes folder.
    env = {"HOME": "/h", "FLEET_CONFIG": "/elsewhere/fleet.toml"}
    assert user_theme_dir(env) == Path("/h/.config/fleet/themes")
    assert user_theme_dir({"HOME": "/h", "XDG_CONFIG_HOME": "/x"}) == Path("/x/fleet/themes")


# --------------------------------------------------------------------------- user themes


def write_theme(ui_dirs: UiDirs, filename: str, text: str) -> Path:
    ui_dirs.theme_dir.mkdir(parents=True, exist_ok=True)
    path = ui_dirs.theme_dir / filename
    path.write_text(text)
    return path


def test_a_user_theme_is_picked_up_and_gets_missing_status_colours(ui_dirs: UiDirs) -> None:
    write_theme(ui_dirs, "paper.toml", """
        name = "paper"
        dark = false
        primary = "#224488"
        background = "#fdfdf5"
        [variables]
        status-needs-input = "#aa0055"
    """)  # fmt: skip
    write_theme(ui_dirs, "notes.txt", "not a theme")  # other files are not themes
    loaded, warnings = load_themes()
    assert warnings == []
    assert [t.name for t in loaded] == [*sorted(BUILTIN), "paper"]
    paper = loaded[-1]
    assert paper.dark is False
    assert paper.variables["status-needs-input"] == "#aa0055"
    light = builtin()["fleet-light"]
    assert paper.variables["status-working"] == light.variables["status-working"]
    assert set(STATUS_VARIABLES) <= set(paper.variables)


def test_the_file_name_is_the_default_theme_name(ui_dirs: UiDirs) -> None:
    write_theme(ui_dirs, "mine.toml", 'primary = "red"\n')
    loaded, warnings = load_themes()
    assert warnings == [] and loaded[-1].name == "mine"
    # dark by default: status colours from fleet-dark
    assert loaded[-1].variables["status-idle"] == builtin()["fleet-dark"].variables["status-idle"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('name = "x"\nprimary = \n', "not valid TOML"),
        ('name = "x"\nbackground = "#000000"\n', "missing 'primary'"),
        ('primary = "not-a-colour"\n', "primary = 'not-a-colour' is not a colour"),
        ('primary = "#fff"\ndark = "yes"\n', "dark must be true or false"),
        ('primary = "#fff"\ntext_alpha = "x"\n', "text_alpha must be a number"),
        ('name = "two words"\nprimary = "#fff"\n', "name must be a word"),
        ('primary = "#fff"\nvariables = 3\n', "[variables] must be a table"),
        ('primary = "#fff"\n[variables]\nstatus-idle = "grey-ish"\n', "status-idle = 'grey-ish'"),
        ('primary = "#fff"\n[variables]\nBad_Name = "red"\n', "variable name 'Bad_Name'"),
        ('primary = "#fff"\n[variables]\nfoo = 1\n', "variable foo must be a non-empty string"),
    ],
)
def test_a_broken_user_theme_is_skipped_with_a_warning(
    ui_dirs: UiDirs, text: str, problem: str
) -> None:
    path = write_theme(ui_dirs, "broken.toml", text)
    loaded, warnings = load_themes()
    assert [t.name for t in loaded] == sorted(BUILTIN)
    assert len(warnings) == 1, warnings
    assert str(path) in warnings[0] and problem in warnings[0] and "skipped" in warnings[0]


def test_an_unreadable_theme_file_is_a_warning(ui_dirs: UiDirs) -> None:
    path = write_theme(ui_dirs, "binary.toml", "")
    path.write_bytes(b"\xff\xfe\x00garbage")
    loaded, warnings = load_themes()
    assert len(loaded) == len(BUILTIN)
    assert len(warnings) == 1 and str(path) in warnings[0]


def test_unknown_keys_warn_but_the_theme_loads(ui_dirs: UiDirs) -> None:
    path = write_theme(ui_dirs, "typo.toml", """
        primary = "#336699"
        primay = "#336699"
        [variables]
        status-waiting = "#ff0000"
    """)  # fmt: skip
    loaded, warnings = load_themes()
    assert loaded[-1].name == "typo"
    assert len(warnings) == 2
    assert str(path) in warnings[0] and "primay" in warnings[0]
    assert "status-waiting" in warnings[1] and "status-needs-input" in warnings[1]


def test_a_second_user_theme_with_the_same_name_is_skipped(ui_dirs: UiDirs) -> None:
    write_theme(ui_dirs, "a.toml", 'name = "same"\nprimary = "#111111"\n')
    second = write_theme(ui_dirs, "b.toml", 'name = "same"\nprimary = "#222222"\n')
    loaded, warnings = load_themes()
    assert [t.primary for t in loaded if t.name == "same"] == ["#111111"]
    assert len(warnings) == 1 and str(second) in warnings[0] and "a.toml" in warnings[0]


def test_a_user_theme_may_replace_a_builtin_one(ui_dirs: UiDirs) -> None:
    write_theme(ui_dirs, "dark.toml", 'name = "fleet-dark"\nprimary = "#123456"\n')

    class TinyApp(App[None]):
        pass

    app = TinyApp()
    assert register_all(app) == []
    theme = app.get_theme("fleet-dark")
    assert theme is not None and theme.primary == "#123456"


# --------------------------------------------------------------------------- in an app


class SwatchApp(App[None]):
    """A tiny app whose CSS uses the status variables, as the grid will."""

    CSS = "\n".join(f"#{name} {{ color: ${name}; }}" for name in STATUS_VARIABLES)

    def __init__(self) -> None:
        super().__init__()
        self.warnings = register_all(self)
        self.theme = DEFAULT_THEME

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return themes.status_variable_defaults()

    def compose(self) -> ComposeResult:
        for name in STATUS_VARIABLES:
            yield Static(name, id=name)


async def test_switching_themes_live_recolours_the_status_variables() -> None:
    app = SwatchApp()
    async with app.run_test(size=(60, 12)) as pilot:
        assert app.warnings == []
        for name in (*BUILTIN, DEFAULT_THEME):
            app.theme = name
            await pilot.pause()
            theme = app.get_theme(name)
            assert theme is not None
            for variable in STATUS_VARIABLES:
                shown = app.query_one(f"#{variable}", Static).styles.color
                assert shown == Color.parse(theme.variables[variable]), (name, variable)
        # Textual's own themes have no status colours: the defaults keep the CSS valid.
        app.theme = "nord"
        await pilot.pause()
        idle = app.query_one("#status-idle", Static).styles.color
        assert idle == Color.parse(themes.status_variable_defaults()["status-idle"])


# --------------------------------------------------------------------------- colours in code


def test_theme_colour_follows_references_and_falls_back() -> None:
    variables = {"primary": "#112233", "accent": "$primary", "text": "auto 87%", "odd": "$nope"}
    assert themes.theme_colour(variables, "accent") == Color.parse("#112233")
    # Not a colour, a dangling reference, an unknown name: the next name, then the literal.
    assert themes.theme_colour(variables, "text", "odd", "missing", "#abcdef") == Color.parse(
        "#abcdef"
    )
    assert themes.theme_colour(variables, "text", "missing") is None
    # A translucent colour is what it shows over the background.
    half = {"tint": "#ffffff80"}
    over = themes.theme_colour(half, "tint", over=Color(0, 0, 0))
    assert over is not None and over.a == 1 and 120 < over.r < 135
    assert themes.theme_colour(half, "tint") == Color.parse("#ffffff80")


@pytest.mark.parametrize("name", BUILTIN)
def test_readable_lifts_a_dim_colour_until_it_reads(name: str) -> None:
    theme = builtin()[name]
    assert theme.background is not None and theme.foreground is not None
    background, foreground = Color.parse(theme.background), Color.parse(theme.foreground)
    dim = background.blend(foreground, 0.1)
    assert themes._contrast(dim, background) < 3
    lifted = themes.readable(dim, background, foreground)
    assert themes._contrast(lifted, background) >= 3
    assert abs(themes._contrast(lifted, background) - contrast(lifted.hex, theme.background)) < 1e-6
    already = Color.parse(theme.variables["status-needs-input"])
    assert themes.readable(already, background, foreground) == already


# --------------------------------------------------------------------------- remembering


def test_the_theme_choice_is_remembered_privately(ui_dirs: UiDirs) -> None:
    assert saved_theme() is None
    save_theme("fleet-light")
    assert saved_theme() == "fleet-light"
    path = ui_dirs.state_dir / "ui.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(ui_dirs.state_dir.stat().st_mode) == 0o700
    save_theme("fleet-high-contrast")
    assert saved_theme() == "fleet-high-contrast"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(os.listdir(ui_dirs.state_dir)) == ["ui.json"]  # no temp files left


def test_other_ui_state_is_kept_and_a_corrupt_file_is_not_fatal(ui_dirs: UiDirs) -> None:
    ui_dirs.state_dir.mkdir(parents=True)
    path = ui_dirs.state_dir / "ui.json"
    path.write_text(json.dumps({"group_by": "host"}))
    save_theme("fleet-dark")
    assert json.loads(path.read_text()) == {"group_by": "host", "theme": "fleet-dark"}
    path.write_text("{not json")
    assert saved_theme() is None
    save_theme("fleet-light")
    assert saved_theme() == "fleet-light"
    path.write_text(json.dumps({"theme": 3}))
    assert saved_theme() is None


def test_env_is_honoured_without_touching_os_environ(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "FLEET_HOME": str(tmp_path / "elsewhere")}
    save_theme("fleet-light", env)
    assert saved_theme(env) == "fleet-light"
    assert (tmp_path / "elsewhere" / "ui.json").is_file()
    assert saved_theme() is None
