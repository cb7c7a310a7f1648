"""fleet's themes: TOML files turned into Textual themes, and the remembered choice.

A theme file gives Textual's :class:`~textual.theme.Theme` fields at the top level (``primary``,
``background``, ``dark``, ...) and CSS variables under ``[variables]``; fleet's status colours
are the variables ``status-<status>`` (used in ``.tcss`` as ``$status-needs-input``). The
built-in themes live in the top-level ``themes/`` folder of a checkout, which the wheel ships as
``fleet/themes``; users add their own in ``<config dir>/themes`` (``~/.config/fleet/themes``).

A broken user theme never stops the app: it is skipped and a warning naming the file and the
problem is returned for the app to show. A user theme that leaves out status colours gets those
of the built-in theme of the same darkness, so ``$status-*`` always resolves.

Widgets that draw with the Line API (the session grid, the diff panel) cannot use CSS for every
cell: they look colours up with :func:`theme_colour` and keep text legible with
:func:`readable`, so both read a theme the same way.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import json
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from textual.app import App
from textual.color import Color, ColorParseError
from textual.theme import Theme

from fleet.core import paths

DEFAULT_THEME = "fleet-dark"
LIGHT_THEME = "fleet-light"

STATUS_VARIABLES: tuple[str, ...] = (
    "status-starting",
    "status-working",
    "status-needs-input",
    "status-idle",
    "status-exited",
    "status-failed",
    "status-lost",
    "status-stopped",
)

THEME_SUFFIX = ".toml"
UI_STATE_FILE = "ui.json"
UI_STATE_MODE = 0o600

_COLOR_FIELDS = (
    "primary",
    "secondary",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
    "success",
    "warning",
    "error",
)
_NUMBER_FIELDS = ("luminosity_spread", "text_alpha")
_BOOL_FIELDS = ("dark", "ansi")
_META_FIELDS = ("name", "description", "author")
_KNOWN_FIELDS = (*_META_FIELDS, *_COLOR_FIELDS, *_NUMBER_FIELDS, *_BOOL_FIELDS, "variables")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_VARIABLE = re.compile(r"[a-z][a-z0-9-]*")


class ThemeFileError(Exception):
    """A theme file that cannot be used; the message names the file and the problem."""


# --------------------------------------------------------------------------- where


def _find_builtin_dir(package_dir: Path | None, checkout_dir: Path) -> Path:
    """``fleet/themes`` inside an installed package if it is there, else the checkout's."""
    if package_dir is not None and package_dir.is_dir():
        return package_dir
    return checkout_dir


def builtin_theme_dir() -> Path:
    """The folder of the themes shipped with fleet.

    In a wheel the top-level ``themes/`` is force-included as ``fleet/themes``; in a source
    checkout (editable install, tests) it is ``<repo>/themes``.
    """
    packaged: Path | None = None
    resource = importlib.resources.files("fleet") / "themes"
    if isinstance(resource, Path):
        packaged = resource
    checkout = Path(__file__).resolve().parents[2] / "themes"
    return _find_builtin_dir(packaged, checkout)


def user_theme_dir(env: Mapping[str, str] = os.environ) -> Path:
    """``$XDG_CONFIG_HOME/fleet/themes``: the ``themes`` folder beside the default fleet.toml.

    It follows the default location even when ``--config`` / ``$FLEET_CONFIG`` name another
    file, so themes do not move with a config someone points at for one run.
    """
    default_env = {k: v for k, v in env.items() if k != "FLEET_CONFIG"}
    return paths.config_path(None, default_env).parent / "themes"


# --------------------------------------------------------------------------- loading


def _is_color(value: str) -> bool:
    try:
        Color.parse(value)
    except ColorParseError:
        return False
    return True


def parse_theme(path: Path, text: str) -> tuple[Theme, list[str]]:
    """Turn the text of theme file ``path`` into a Theme; also return non-fatal warnings.

    Raises :class:`ThemeFileError` for a theme that cannot be used.
    """

    def fail(problem: str) -> ThemeFileError:
        return ThemeFileError(f"theme {path}: {problem}")

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise fail(f"not valid TOML: {exc}") from None

    warnings: list[str] = []
    unknown = sorted(set(data) - set(_KNOWN_FIELDS))
    if unknown:
        warnings.append(
            f"theme {path}: ignored unknown key(s) {', '.join(unknown)} "
            f"(known: {', '.join(_KNOWN_FIELDS)})"
        )

    name = data.get("name", path.stem)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise fail(f"name must be a word like 'my-theme' (letters, digits, - _ .), not {name!r}")

    fields: dict[str, Any] = {}
    if "primary" not in data:
        raise fail("missing 'primary' (a colour like \"#4c9be8\")")
    for key in _COLOR_FIELDS:
        if key in data:
            value = data[key]
            if not isinstance(value, str) or not _is_color(value):
                raise fail(f'{key} = {value!r} is not a colour (try "#rrggbb")')
            fields[key] = value
    for key in _BOOL_FIELDS:
        if key in data:
            if not isinstance(data[key], bool):
                raise fail(f"{key} must be true or false, not {data[key]!r}")
            fields[key] = data[key]
    for key in _NUMBER_FIELDS:
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise fail(f"{key} must be a number, not {value!r}")
            fields[key] = float(value)

    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise fail('[variables] must be a table of name = "value"')
    for key, value in variables.items():
        if not _VARIABLE.fullmatch(key):
            raise fail(f"variable name {key!r} must be lowercase words joined by '-'")
        if not isinstance(value, str) or not value.strip():
            raise fail(f"variable {key} must be a non-empty string, not {value!r}")
        if key.startswith("status-") and not _is_color(value):
            raise fail(f'variable {key} = {value!r} is not a colour (try "#rrggbb")')
    unknown_status = sorted(
        k for k in variables if k.startswith("status-") and k not in STATUS_VARIABLES
    )
    if unknown_status:
        warnings.append(
            f"theme {path}: unknown status variable(s) {', '.join(unknown_status)} "
            f"(known: {', '.join(STATUS_VARIABLES)})"
        )

    theme = Theme(name=name, variables=dict(variables), **fields)
    try:
        theme.to_color_system().generate()
    except Exception as exc:  # a last line of defence: never let a theme crash the app
        raise fail(f"Textual cannot use it: {exc}") from None
    return theme, warnings


def _theme_files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.suffix == THEME_SUFFIX and p.is_file())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _with_status_defaults(theme: Theme, builtins: Mapping[str, Theme]) -> Theme:
    base = builtins.get(DEFAULT_THEME if theme.dark else LIGHT_THEME)
    if base is None:
        return theme
    missing = {k: v for k, v in base.variables.items() if k in STATUS_VARIABLES}
    theme.variables = {**missing, **theme.variables}
    return theme


def load_themes(env: Mapping[str, str] = os.environ) -> tuple[list[Theme], list[str]]:
    """The built-in themes, then the user's; and warnings about files that were skipped.

    Never raises for a bad user theme: the file is left out and a warning says why. A user
    theme may reuse a built-in name to replace it; a second user file with a name already
    taken by another user file is skipped.
    """
    themes: list[Theme] = []
    warnings: list[str] = []
    builtins: dict[str, Theme] = {}
    for path in _theme_files(builtin_theme_dir()):
        theme, _ = parse_theme(path, path.read_text(encoding="utf-8"))
        builtins[theme.name] = theme
        themes.append(theme)

    user_names: dict[str, Path] = {}
    for path in _theme_files(user_theme_dir(env)):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            warnings.append(f"theme {path}: cannot read it: {exc}")
            continue
        try:
            theme, notes = parse_theme(path, text)
        except ThemeFileError as exc:
            warnings.append(f"{exc} (skipped)")
            continue
        warnings.extend(notes)
        if theme.name in user_names:
            warnings.append(
                f"theme {path}: name {theme.name!r} is already used by "
                f"{user_names[theme.name]} (skipped)"
            )
            continue
        user_names[theme.name] = path
        themes.append(_with_status_defaults(theme, builtins))
    return themes, warnings


def status_variable_defaults() -> dict[str, str]:
    """The status colours of the default theme, for ``App.get_theme_variable_defaults``.

    They keep ``$status-*`` defined under themes that do not set them (Textual's own).
    """
    path = builtin_theme_dir() / f"{DEFAULT_THEME}{THEME_SUFFIX}"
    theme, _ = parse_theme(path, path.read_text(encoding="utf-8"))
    return {k: v for k, v in theme.variables.items() if k in STATUS_VARIABLES}


def register_all(app: App[Any], env: Mapping[str, str] = os.environ) -> list[str]:
    """Register every fleet theme (built-in and user) with ``app``; return the warnings."""
    themes, warnings = load_themes(env)
    for theme in themes:
        app.register_theme(theme)
    return warnings


# --------------------------------------------------------------------------- colours in code


def css_variables(app: App[Any]) -> dict[str, str]:
    """The variables of the app's theme (Textual's defaults until a theme has been applied)."""
    return app.theme_variables or app.get_css_variables()


def theme_colour(
    variables: Mapping[str, str], *names: str, over: Color | None = None
) -> Color | None:
    """The first of `names` that gives a colour, or None.

    A name is a theme variable (one ``$other`` reference is followed) or a literal colour
    (``"#rrggbb"``) to fall back on. A translucent colour is laid over `over` when given, so
    what is returned is what the cell will show.
    """
    for name in names:
        value = variables.get(name, name if name.startswith("#") else "")
        if value.startswith("$"):
            value = variables.get(value[1:], "")
        if not value:
            continue
        try:
            parsed = Color.parse(value)
        except Exception:  # a variable that is no colour ("auto 87%"), or a broken user theme
            continue
        return over + parsed if over is not None and parsed.a < 1 else parsed
    return None


def _luminance(c: Color) -> float:
    def channel(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.03928 else float(((s + 0.055) / 1.055) ** 2.4)

    return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b)


def _contrast(a: Color, b: Color) -> float:
    """The WCAG contrast ratio of two opaque colours (1 to 21)."""
    la, lb = _luminance(a), _luminance(b)
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


def readable(colour: Color, background: Color, foreground: Color, minimum: float = 3.0) -> Color:
    """`colour`, moved toward the foreground until it reads on the background."""
    for _ in range(6):
        if _contrast(colour, background) >= minimum:
            break
        colour = colour.blend(foreground, 0.35)
    return colour


# --------------------------------------------------------------------------- remembering


def _ui_state_path(env: Mapping[str, str]) -> Path:
    return paths.state_dir(env) / UI_STATE_FILE


def _read_ui_state(env: Mapping[str, str]) -> dict[str, Any]:
    try:
        data = json.loads(_ui_state_path(env).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def saved_theme(env: Mapping[str, str] = os.environ) -> str | None:
    """The theme the user last chose, or None (never chosen, or an unreadable ui.json)."""
    name = _read_ui_state(env).get("theme")
    return name if isinstance(name, str) and name else None


def save_theme(name: str, env: Mapping[str, str] = os.environ) -> None:
    """Remember ``name`` in ``<state dir>/ui.json`` (mode 0600, replaced atomically).

    Other keys already in ui.json are kept.
    """
    folder = paths.ensure_state_dir(env)
    state = _read_ui_state(env)
    state["theme"] = name
    fd, tmp = tempfile.mkstemp(prefix=".ui-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), UI_STATE_MODE)
            json.dump(state, out, indent=2, sort_keys=True)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, folder / UI_STATE_FILE)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
