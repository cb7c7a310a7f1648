"""The theme turned into Rich styles for the diff's rows, resolved once per theme, not per row.

Colours come from the app's theme variables through :func:`fleet.ui.themes.theme_colour` (the
lookup the session grid uses too); text colours are moved toward the foreground until they
read on the panel's background (:func:`fleet.ui.themes.readable`), so a theme with a dim
``$primary`` still gives legible keywords. Added and removed lines are tints of the success and
error colours over the background; syntax colours go on top of the line's tint.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

from pygments.token import Token, _TokenType
from rich.style import Style
from textual.color import Color
from textual.widget import Widget

from fleet.ui.themes import css_variables, readable, theme_colour

# Token type -> role in the palette; a type not listed takes its nearest listed parent's role.
_ROLES: dict[_TokenType, str] = {
    Token.Comment: "comment",
    Token.Keyword: "keyword",
    Token.Operator.Word: "keyword",
    Token.Name.Builtin: "builtin",
    Token.Name.Function: "function",
    Token.Name.Class: "function",
    Token.Name.Decorator: "function",
    Token.Name.Tag: "keyword",
    Token.Name.Attribute: "function",
    Token.Literal.String: "string",
    Token.Literal.Number: "number",
    Token.Error: "error",
    Token.Generic.Error: "error",
}


@functools.lru_cache(maxsize=1024)
def role(ttype: _TokenType) -> str:
    """The palette role of a token type ("" for plain text)."""
    t: _TokenType | None = ttype
    while t is not None:
        found = _ROLES.get(t)
        if found is not None:
            return found
        t = t.parent
    return ""


def _colour(
    variables: Mapping[str, str], *names: str, fallback: str, over: Color | None = None
) -> Color:
    found = theme_colour(variables, *names, over=over)
    return found if found is not None else Color.parse(fallback)


class Palette:
    """The colours a widget draws with: its own background and foreground, and the app's theme
    variables laid over that background."""

    def __init__(self, widget: Widget) -> None:
        self.variables = css_variables(widget.app)
        base = widget.rich_style
        self.base = base
        self.background = (
            Color.from_rich_color(base.bgcolor)
            if base.bgcolor is not None
            else _colour(self.variables, "surface", "background", fallback="#1e1e1e")
        )
        self.foreground = (
            Color.from_rich_color(base.color)
            if base.color is not None
            else self.colour("foreground", fallback="#e0e0e0")
        )

    def colour(self, *names: str, fallback: str = "#808080") -> Color:
        """The first of the theme variables `names` that is a colour, over the background."""
        return _colour(self.variables, *names, fallback=fallback, over=self.background)

    def text(self, *names: str, fallback: str = "#808080") -> Color:
        """A colour for text: readable on this background."""
        return readable(self.colour(*names, fallback=fallback), self.background, self.foreground)

    def tint(self, *names: str, amount: float = 0.16) -> Color:
        return self.background.blend(self.colour(*names), amount)

    def style(
        self,
        colour: Color | None = None,
        bg: Color | None = None,
        *,
        bold: bool | None = None,
        dim: bool | None = None,
        italic: bool | None = None,
    ) -> Style:
        return self.base + Style(
            color=colour.rich_color if colour is not None else None,
            bgcolor=bg.rich_color if bg is not None else None,
            bold=bold,
            dim=dim,
            italic=italic,
        )


@dataclass
class DiffStyles:
    """The hunks view's styles."""

    base: Style
    muted: Style
    number: Style
    file: Style
    rule: Style
    hunk: Style
    hunk_cursor: Style
    cursor_bar: Style
    meta: Style
    more: Style
    line: dict[str, Style]  # line kind (" ", "+", "-", "\\") -> the line's style (its tint)
    sign: dict[str, Style]  # line kind -> the ▌ bar and sign
    decision: dict[str, Style]
    roles: dict[str, Style]
    _tokens: dict[tuple[_TokenType, str], Style] = field(default_factory=dict)

    def token(self, ttype: _TokenType, kind: str) -> Style:
        """A token's style on a line of `kind` (cached: a screen has few distinct pairs)."""
        key = (ttype, kind)
        style = self._tokens.get(key)
        if style is None:
            found = role(ttype)
            style = self.line[kind] + self.roles[found] if found else self.line[kind]
            self._tokens[key] = style
        return style


def diff_styles(widget: Widget) -> DiffStyles:
    t = Palette(widget)
    base = t.base
    muted = t.text("foreground-muted", "text-muted", fallback="#909090")
    added_bg = t.tint("success", "text-success")
    removed_bg = t.tint("error", "text-error")
    added = t.text("text-success", "success", fallback="#4ebf71")
    removed = t.text("text-error", "error", fallback="#ba3c5b")
    accent = t.text("accent", "primary", fallback="#ffa62b")
    header_bg = t.colour("panel", "surface-lighten-1", fallback="#2d2d2d")
    cursor_bg = t.background.blend(t.colour("accent", "primary"), 0.30)
    primary = t.text("text-primary", "primary")
    return DiffStyles(
        base=base,
        muted=t.style(muted),
        number=t.style(muted, dim=True),
        file=t.style(t.foreground, header_bg, bold=True),
        rule=t.style(muted, header_bg),
        hunk=t.style(primary, bold=True),
        hunk_cursor=t.style(t.foreground, cursor_bg, bold=True),
        cursor_bar=t.style(accent, bold=True),
        meta=t.style(muted, italic=True),
        more=t.style(accent, bold=True),
        line={" ": base, "+": t.style(bg=added_bg), "-": t.style(bg=removed_bg), "\\": base},
        sign={
            " ": base,
            "+": t.style(added, added_bg, bold=True),
            "-": t.style(removed, removed_bg, bold=True),
            "\\": base,
        },
        decision={
            "pending": Style(color=muted.rich_color),
            "approved": Style(color=added.rich_color, bold=True),
            "rejected": Style(color=removed.rich_color, bold=True),
        },
        roles={
            "comment": Style(color=muted.rich_color, italic=True),
            "keyword": Style(color=primary.rich_color),
            "builtin": Style(color=primary.rich_color),
            "function": Style(color=t.text("text-accent", "accent").rich_color),
            "string": Style(color=t.text("text-warning", "warning").rich_color),
            "number": Style(color=t.text("text-secondary", "secondary").rich_color),
            "error": Style(color=removed.rich_color, underline=True),
        },
    )


@dataclass(frozen=True)
class FileListStyles:
    """The file list's styles."""

    base: Style
    cursor: Style
    bar: Style
    muted: Style
    added: Style
    removed: Style
    approved: Style
    rejected: Style


def file_list_styles(widget: Widget) -> FileListStyles:
    t = Palette(widget)
    cursor_bg = t.background.blend(t.colour("accent", "primary"), 0.30)
    return FileListStyles(
        base=t.base,
        cursor=t.style(t.foreground, cursor_bg, bold=True),
        bar=t.style(t.text("accent", "primary"), bold=True),
        muted=t.style(t.text("foreground-muted", "text-muted")),
        added=t.style(t.text("text-success", "success")),
        removed=t.style(t.text("text-error", "error")),
        approved=t.style(t.text("text-success", "success"), bold=True),
        rejected=t.style(t.text("text-error", "error"), bold=True),
    )


__all__ = ["DiffStyles", "FileListStyles", "Palette", "diff_styles", "file_list_styles", "role"]
