"""fleet's TOML config: loaded, validated, and every error names the file and the line.

The format (every section optional)::

    [ssh]
    config = "~/.ssh/config"      # "" = read no ssh config
    keepalive = 5
    keepalive_count = 3
    connect_timeout = 15
    max_connects = 8

    [hosts.alpha]
    ssh = "alpha"                 # ssh config alias, "user@host:port", "user@host", "host:port"

    [agents.myagent]              # merged into the built-in profiles by fleet.core.agents
    command = "myagent --yes {task}"
    waiting = ['^Continue\\? \\[y/N\\]']
    sandbox = "bwrap --ro-bind / / --bind {worktree} {worktree} --"   # see examples/sandbox

    [keys]                        # reserved for the TUI: action -> key
    quit = "q"

    [hooks]                       # event kind (or "*") -> a command that gets the event JSON
    timeout = 10                  # seconds a hook may run
    needs-input = "notify-send fleet 'an agent needs you'"   # a string: run by /bin/sh -c
    failed = ["~/bin/page-me", "--urgent"]                 # a list: argv, no shell

tomllib gives no line numbers for values, so :class:`_Locator` scans the raw text for table
headers and ``key =`` lines to point errors at the right line. Config files may hold secrets:
nothing here logs the contents, and errors quote only the offending value, shortened.
"""

from __future__ import annotations

import codecs
import difflib
import json
import math
import os
import re
import shlex
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, assert_never

from fleet.core.models import EVENT_KINDS, PROFILE_KEYS, PROFILE_VALUES, ProfileValue, SendMode
from fleet.core.paths import config_source, expand_user, home_dir
from fleet.core.remote.hostside.sandbox import check_words as check_sandbox_words

__all__ = [
    "AGENT_KEYS",
    "Config",
    "ConfigError",
    "Hook",
    "HookSettings",
    "HostConfig",
    "KeyPath",
    "SshSettings",
    "ValueChecks",
    "format_key",
    "load_config",
    "parse_target",
]

KeyPath = tuple[str | int, ...]
"""A key's place in the document: ("hosts", "alpha", "ssh"), ("agents", "x", "waiting", 1)."""

SECTIONS: Final = ("ssh", "hosts", "agents", "keys", "hooks", "ui")
UI_KEYS: Final = ("notify",)
NOTIFY_MODES: Final = ("bell", "osc9", "osc777", "off")
HOOK_KEYS: Final = ("timeout", *EVENT_KINDS, "*")
SSH_KEYS: Final = ("config", "keepalive", "keepalive_count", "connect_timeout", "max_connects")
HOST_KEYS: Final = ("ssh",)
# The keys an [agents.NAME] table may set: AgentProfile's fields (fleet.core.models).
AGENT_KEYS: Final = PROFILE_KEYS

# Host names appear in session refs HOST/NAME: no "/", nothing a shell or URL would mangle.
NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
NAME_RULE: Final = (
    'letters, digits, ".", "_" and "-", starting with a letter or digit, at most 63 characters'
)
TARGET_EXAMPLE: Final = 'a string like "alias" or "user@host:port"'
MAX_SECONDS: Final = 86400  # a day: any delay or timeout beyond it is a typo
_INVISIBLE: Final = re.compile(
    "[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


# --------------------------------------------------------------------------- errors


class ConfigError(Exception):
    """A config problem: ``str(err)`` is ``"{path}:{line}: {message}"`` (or without the line)."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}: {self.message}"


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class SshSettings:
    config_file: Path | None = None
    keepalive: float = 5.0  # seconds between keepalives; 0 = off (discouraged)
    keepalive_count: int = 3  # missed keepalives before the connection counts as dead
    connect_timeout: float = 15.0  # seconds
    max_connects: int = 8  # connects in flight at once, across all hosts


@dataclass(frozen=True)
class HostConfig:
    name: str
    ssh: str  # validated: parse_target(ssh) does not raise
    line: int  # where [hosts.NAME] is defined; 0 if unknown


@dataclass(frozen=True)
class Hook:
    """One ``[hooks]`` entry. ``argv`` is what runs: ``("/bin/sh", "-c", TEXT)`` for a string
    (the person's own shell command, as written), the list itself (no shell) for a list, with
    ``~`` expanded in its first element. It may hold tokens: it is kept out of repr()."""

    event: str  # an event kind or "*"
    argv: tuple[str, ...] = field(repr=False)
    shell: bool = False
    line: int = 0  # where it is defined; 0 if unknown

    @property
    def label(self) -> str:
        """``hooks.failed`` or ``hooks."*"``: how logs name this hook (never by its command)."""
        return format_key(("hooks", self.event))


@dataclass(frozen=True)
class HookSettings:
    timeout: float = 10.0  # seconds a hook may run before its process group is killed
    # event kind or "*" -> its hooks (one per key today; a tuple so more can come).
    commands: dict[str, tuple[Hook, ...]] = field(default_factory=dict)
    cwd: Path | None = None  # hooks run here: the config file's directory

    def matching(self, kind: str) -> tuple[Hook, ...]:
        """The hooks for an event of this kind: its own, then the "*" ones."""
        return self.commands.get(kind, ()) + self.commands.get("*", ())


@dataclass(frozen=True)
class Config:
    path: Path
    exists: bool
    ssh: SshSettings = field(default_factory=SshSettings)
    hosts: dict[str, HostConfig] = field(default_factory=dict)
    # agent name -> validated overrides, keys from AGENT_KEYS: str, tuple[str, ...], float,
    # int, and SendMode (a str) for send_mode. fleet.core.agents merges them into the built-ins.
    agents: dict[str, dict[str, object]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    hooks: HookSettings = field(default_factory=HookSettings)
    # [ui] notify: how the TUI gets the person's attention besides a toast.
    notify: str = "bell"
    # Where each key is defined (key names only, never values): for errors found later.
    lines: dict[KeyPath, int] = field(default_factory=dict, repr=False, compare=False)

    def line_of(self, *key: str | int) -> int | None:
        """The line defining ``key`` (or its nearest enclosing table), None if unknown."""
        return _nearest_line(self.lines, key)

    def error(self, key: Sequence[str | int], message: str) -> ConfigError:
        """A ConfigError pointing at ``key``, e.g. ``cfg.error(("agents", "x"), "no command")``
        gives ``fleet.toml:12: agents.x: no command``."""
        return ConfigError(self.path, self.line_of(*key), f"{format_key(tuple(key))}: {message}")


# --------------------------------------------------------------------------- ssh targets

_USER_RE: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]*")
_HOST_RE: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_IPV6_RE: Final = re.compile(r"[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*(?:%[A-Za-z0-9_.-]+)?")
_TARGET_CHAR_RE: Final = re.compile(r"[A-Za-z0-9_.@:%\[\]-]")


def parse_target(ssh: str) -> tuple[str | None, str, int | None]:
    """Split an ssh target into (user, host, port).

    Accepts ``alias``, ``host``, ``user@host``, ``host:port``, ``user@host:port``,
    ``[::1]``, ``[::1]:2222``, ``user@[fe80::1%eth0]:22`` and a bare IPv6 ``::1`` (no port).
    A bare alias gives ``(None, alias, None)``. Raises ValueError (saying what was expected)
    for anything with spaces or shell characters, a leading ``-`` (which ssh would take as an
    option) or a port outside 1..65535.
    """
    if not isinstance(ssh, str) or not ssh:
        raise ValueError(f"expected {TARGET_EXAMPLE}, got {describe(ssh)}")
    shown = describe(ssh)
    if ssh.startswith("-"):
        raise ValueError(f'must not start with "-" (ssh would read it as an option), got {shown}')
    for ch in ssh:
        if not _TARGET_CHAR_RE.fullmatch(ch):
            raise ValueError(
                f"expected {TARGET_EXAMPLE} without spaces or shell characters, "
                f"got {shown} (unexpected {json.dumps(ch)})"
            )
    user: str | None = None
    rest = ssh
    if "@" in ssh:
        user, _, rest = ssh.rpartition("@")
        if not _USER_RE.fullmatch(user):
            raise ValueError(f"expected {TARGET_EXAMPLE}, got {shown} (bad user name)")
    port_text: str | None = None
    if rest.startswith("["):
        m = re.fullmatch(r"\[([^\]]*)\](?::(.*))?", rest)
        if not m or not _IPV6_RE.fullmatch(m[1]):
            raise ValueError(f'expected an IPv6 address like "[::1]" or "[::1]:2222", got {shown}')
        host, port_text = m[1], m[2]
    elif rest.count(":") >= 2:
        if not _IPV6_RE.fullmatch(rest):
            raise ValueError(f'expected an IPv6 address like "[::1]:2222", got {shown}')
        host = rest
    else:
        host, colon, port = rest.partition(":")
        port_text = port if colon else None
        if not _HOST_RE.fullmatch(host):
            raise ValueError(f"expected {TARGET_EXAMPLE}, got {shown} (bad host name)")
    if port_text is None:
        return user, host, None
    if not re.fullmatch(r"[0-9]{1,6}", port_text) or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"expected a port in 1..65535, got {shown}")
    return user, host, int(port_text)


# --------------------------------------------------------------------------- locating lines

_BARE_KEY: Final = r"[A-Za-z0-9_-]+"
_BASIC_KEY: Final = r'"(?:[^"\\\n]|\\.)*"'
_LITERAL_KEY: Final = r"'[^'\n]*'"
_KEY: Final = rf"(?:{_BARE_KEY}|{_BASIC_KEY}|{_LITERAL_KEY})"
_DOTTED: Final = rf"{_KEY}(?:[ \t]*\.[ \t]*{_KEY})*"
_KEY_RE: Final = re.compile(_KEY)
_HEADER_RE: Final = re.compile(rf"[ \t]*\[\[?[ \t]*({_DOTTED})[ \t]*\]\]?[ \t]*(?:#.*)?")
_KEYLINE_RE: Final = re.compile(rf"[ \t]*({_DOTTED})[ \t]*=")


def _split_key(dotted: str) -> tuple[str, ...]:
    parts: list[str] = []
    for m in _KEY_RE.finditer(dotted):
        token = m.group(0)
        if token.startswith('"'):
            try:
                parts.append(str(json.loads(token)))
            except ValueError:
                parts.append(token[1:-1])
        elif token.startswith("'"):
            parts.append(token[1:-1])
        else:
            parts.append(token)
    return tuple(parts)


def _nearest_line(index: Mapping[KeyPath, int], key: KeyPath) -> int | None:
    for end in range(len(key), 0, -1):
        line = index.get(key[:end])
        if line is not None:
            return line
    return None


class _Value:
    """Follows one value across lines (arrays, multi-line strings) so that the lines inside it
    are not read as headers or keys, and notes the line of each element of a top-level array."""

    def __init__(self, key: KeyPath, index: dict[KeyPath, int]) -> None:
        self.key = key
        self.index = index
        self.depth = 0
        self.multiline: str | None = None  # '"""' or "'''" while inside one
        self.is_array = False
        self.element = 0
        self.expect_element = False

    @property
    def done(self) -> bool:
        return self.depth <= 0 and self.multiline is None

    def feed(self, text: str, line: int) -> None:
        i, n = 0, len(text)
        while i < n:
            if self.multiline is not None:
                end = _multiline_end(text, i, self.multiline)
                if end < 0:
                    return
                self.multiline = None
                i = end
                continue
            ch = text[i]
            if ch in " \t\r":
                i += 1
                continue
            if ch == "#":
                return
            if self.is_array and self.depth == 1 and self.expect_element and ch not in ",]":
                self.index.setdefault((*self.key, self.element), line)
                self.expect_element = False
            if text.startswith('"""', i) or text.startswith("'''", i):
                self.multiline = text[i : i + 3]
                i += 3
                continue
            if ch == '"':
                i = _basic_end(text, i + 1)
                continue
            if ch == "'":
                close = text.find("'", i + 1)
                i = n if close < 0 else close + 1
                continue
            if ch in "[{":
                if self.depth == 0 and ch == "[":
                    self.is_array = True
                    self.expect_element = True
                self.depth += 1
            elif ch in "]}":
                self.depth -= 1
            elif ch == "," and self.is_array and self.depth == 1:
                self.element += 1
                self.expect_element = True
            i += 1


def _basic_end(text: str, i: int) -> int:
    """Index after the closing quote of a basic string whose body starts at ``i``."""
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == '"':
            return i + 1
        else:
            i += 1
    return len(text)


def _multiline_end(text: str, i: int, delim: str) -> int:
    """Index after the closing ``delim`` at or after ``i``, or -1 if it is not on this line."""
    while i < len(text):
        if delim == '"""' and text[i] == "\\":
            i += 2
        elif text.startswith(delim, i):
            end = i + 3
            # Up to two quotes right before the delimiter belong to the string.
            while end < len(text) and end - i < 5 and text[end] == delim[0]:
                end += 1
            return end
        else:
            i += 1
    return -1


class _Locator:
    """Maps key paths to the line that defines them, from table headers (``[hosts.alpha]``,
    ``[hosts."alpha"]``, ``[[x]]``), ``key =`` / ``dotted.key =`` lines, and the elements of
    arrays. Not a TOML parser: inline tables point at their key's line, which is the same line
    in TOML 1.0. Every prefix of a path maps to the first line that mentions it."""

    def __init__(self, text: str) -> None:
        self.index: dict[KeyPath, int] = {}
        table: tuple[str, ...] = ()
        value: _Value | None = None
        for line_no, raw in enumerate(text.split("\n"), start=1):
            line = raw.rstrip("\r")
            if value is not None:
                value.feed(line, line_no)
                if value.done:
                    value = None
                continue
            header = _HEADER_RE.fullmatch(line)
            if header:
                table = _split_key(header.group(1))
                self._add(table, line_no)
                continue
            key_line = _KEYLINE_RE.match(line)
            if key_line:
                key = table + _split_key(key_line.group(1))
                self._add(key, line_no)
                value = _Value(key, self.index)
                value.feed(line[key_line.end() :], line_no)
                if value.done:
                    value = None

    def _add(self, key: tuple[str, ...], line: int) -> None:
        for end in range(1, len(key) + 1):
            self.index.setdefault(key[:end], line)

    def line_of(self, key: KeyPath) -> int | None:
        """The line of ``key``, else of its nearest enclosing table or key, else None."""
        return _nearest_line(self.index, key)


# --------------------------------------------------------------------------- formatting


def format_key(key: KeyPath) -> str:
    """``("hosts", "alpha", "ssh")`` -> ``hosts.alpha.ssh``; ``("agents", "x", "idle", 1)`` ->
    ``agents.x.idle[1]``; names that are not bare keys are quoted."""
    out = ""
    for part in key:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if re.fullmatch(_BARE_KEY, part) else json.dumps(part, ensure_ascii=False)
            out += f".{name}" if out else name
    return out


def describe(value: object, limit: int = 60) -> str:
    """A short, TOML-flavoured rendering of a value for an error message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        # C1 and bidi controls JSON leaves as they are: shown as escapes, never acted on.
        text = _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
        return text if len(text) <= limit else text[: limit - 4] + '..."'
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _unknown(kind: str, name: str, where: str, allowed: Sequence[str], quote: bool) -> str:
    """``unknown key "comand" in [agents.x] (expected one of: ...; did you mean "command"?)``"""
    shown = json.dumps(name, ensure_ascii=False) if quote else f"[{name}]"
    message = f"unknown {kind} {shown}{where} (expected one of: {', '.join(allowed)}"
    close = difflib.get_close_matches(name, allowed, n=1)
    if close:
        hint = json.dumps(close[0]) if quote else f"[{close[0]}]"
        message += f"; did you mean {hint}?"
    return message + ")"


# --------------------------------------------------------------------------- loading


def load_config(explicit: str | Path | None = None, env: Mapping[str, str] = os.environ) -> Config:
    """Load and validate the config (``--config`` > ``$FLEET_CONFIG`` > XDG default).

    A missing default file gives an empty fleet with default settings; a missing file named by
    ``--config`` or ``$FLEET_CONFIG`` is an error. Raises ConfigError.
    """
    path, named_by = config_source(explicit, env)
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        if named_by is not None:
            raise ConfigError(path, None, f"config file not found (named by {named_by})") from None
        return Config(path=path, exists=False, ssh=SshSettings(config_file=_default_ssh(env)))
    except IsADirectoryError:
        raise ConfigError(path, None, "is a directory, expected a TOML config file") from None
    except PermissionError:
        raise ConfigError(path, None, "cannot read the config file: permission denied") from None
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ConfigError(path, None, f"cannot read the config file: {reason}") from None
    return _Loader(path, env).load(data)


def _default_ssh(env: Mapping[str, str]) -> Path | None:
    candidate = home_dir(env) / ".ssh" / "config"
    return candidate if candidate.is_file() else None


class ValueChecks:
    """The checks of a config value, each returning the value as fleet keeps it or raising
    :meth:`fail`: a ValueError here, a ConfigError at the key's line in the loader. Lists may
    come as tuples: fleet.core.agents checks profile fields given in code (or a Config's, again)
    with these same rules."""

    def fail(self, key: KeyPath, message: str) -> Exception:
        """The error to raise for the value at ``key``."""
        prefix = f"{format_key(key)}: " if key else ""
        return ValueError(prefix + message)

    def expected(self, key: KeyPath, what: str, value: object) -> Exception:
        return self.fail(key, f"expected {what}, got {describe(value)}")

    def profile_value(self, where: KeyPath, name: str, value: object) -> object:
        """``value`` checked as the AgentProfile field ``name`` holds it (a key of
        PROFILE_KEYS), in the type the field has; ``where`` is the table it stands in."""
        key = (*where, name)
        kind = PROFILE_VALUES[name]
        match kind:
            case ProfileValue.COMMAND:
                return self.string(key, value, "a non-empty command string", empty=False)
            case ProfileValue.TEMPLATE:
                return self.string(key, value, "a command string")
            case ProfileValue.TEXT:
                return self.string(key, value, "a string")
            case ProfileValue.VERSION:
                return self.string(key, value, 'a version string like "1.2.3"')
            case ProfileValue.PATTERNS:
                return self.regexes(key, value)
            case ProfileValue.SESSION_ID:
                return self.session_id_regex(key, value)
            case ProfileValue.SECONDS:
                return self.seconds(key, value)
            case ProfileValue.LINES:
                return self.whole(key, value, "a whole number of lines")
            case ProfileValue.SEND_MODE:
                return self.send_mode(key, value)
            case ProfileValue.KEYS:
                return self.tmux_keys(key, value)
            case ProfileValue.WRAPPER:
                return self.sandbox(key, value)
            case _:
                assert_never(kind)

    def seconds(self, key: KeyPath, value: object, positive: bool = False) -> float:
        bound = "> 0" if positive else ">= 0"
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
            or (positive and value == 0)
        ):
            raise self.expected(key, f"a number of seconds {bound}", value)
        if value > MAX_SECONDS:  # 1e308 s would overflow a sleep on the host
            raise self.expected(key, f"at most {MAX_SECONDS} seconds (a day)", value)
        return float(value)

    def whole(self, key: KeyPath, value: object, what: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.expected(key, f"{what} >= 1", value)
        return value

    def string(self, key: KeyPath, value: object, what: str, empty: bool = True) -> str:
        if not isinstance(value, str) or (not empty and not value.strip()):
            raise self.expected(key, what, value)
        if "\x00" in value:  # no command line, tmux or file name can carry it
            raise self.fail(key, "the string contains a NUL character")
        return value

    def sandbox(self, key: KeyPath, value: object) -> str:
        """A wrapper command as shell words (a string, or a list of words): kept as one string
        that shlex splits back into exactly these words."""
        what = 'a wrapper command like "bwrap --bind {worktree} {worktree} ..." (or a list)'
        if value == "":
            return ""  # no sandbox
        if isinstance(value, list | tuple):
            words = list(value)
            if not all(isinstance(word, str) for word in words):
                raise self.expected(key, "a list of strings", value)
        elif isinstance(value, str):
            try:
                words = shlex.split(value)
            except ValueError as err:
                raise self.fail(key, f"cannot split into words: {err}") from None
        else:
            raise self.expected(key, what, value)
        problem = check_sandbox_words(words)
        if problem:
            raise self.fail(key, problem)
        return shlex.join(words)

    def session_id_regex(self, key: KeyPath, value: object) -> str:
        if not isinstance(value, str):
            raise self.expected(key, "a regex string with one group", value)
        try:
            groups = re.compile(value).groups
        except re.error as err:
            raise self.fail(key, f"invalid regex {value!r}: {err.msg}") from None
        if groups != 1:
            raise self.fail(key, f"expected a regex with exactly one group, got {groups}")
        return value

    def regexes(self, key: KeyPath, value: object) -> tuple[str, ...]:
        if not isinstance(value, list | tuple):
            raise self.expected(key, "a list of regex strings", value)
        out: list[str] = []
        for i, pattern in enumerate(value):
            if not isinstance(pattern, str):
                raise self.expected((*key, i), "a regex string", pattern)
            try:
                re.compile(pattern, re.MULTILINE)
            except re.error as err:
                where = f" at position {err.pos}" if err.pos else ""
                raise self.fail((*key, i), f"invalid regex {pattern!r}: {err.msg}{where}") from None
            out.append(pattern)
        return tuple(out)

    def send_mode(self, key: KeyPath, value: object) -> SendMode:
        modes = [str(mode) for mode in SendMode]
        if not isinstance(value, str) or value not in modes:
            raise self.expected(key, " or ".join(json.dumps(m) for m in modes), value)
        return SendMode(value)

    def tmux_keys(self, key: KeyPath, value: object) -> tuple[str, ...]:
        if not isinstance(value, list | tuple):
            raise self.expected(key, 'a list of tmux key names like ["Escape"] or ["C-c"]', value)
        for i, name in enumerate(value):
            if not isinstance(name, str) or not re.fullmatch(r"[^\s\x00-\x1f\x7f]+", name):
                raise self.expected((*key, i), 'a tmux key name like "Escape" or "C-c"', name)
        return tuple(value)


class _Loader(ValueChecks):
    def __init__(self, path: Path, env: Mapping[str, str]) -> None:
        self.path = path
        self.env = env
        self.locator = _Locator("")

    # ---- plumbing

    def fail(self, key: KeyPath, message: str) -> ConfigError:
        prefix = f"{format_key(key)}: " if key else ""
        return ConfigError(self.path, self.locator.line_of(key), prefix + message)

    def table(self, key: KeyPath, value: object, what: str) -> dict[str, object]:
        if not isinstance(value, dict):
            raise self.expected(key, what, value)
        return value

    def check_keys(self, key: KeyPath, table: Mapping[str, object], allowed: Sequence[str]) -> None:
        for name in table:
            if name not in allowed:
                where = f" in [{format_key(key)}]"
                raise ConfigError(
                    self.path,
                    self.locator.line_of((*key, name)),
                    _unknown("key", name, where, allowed, quote=True),
                )

    # ---- the document

    def load(self, data: bytes) -> Config:
        if data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8) :]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            line = data.count(b"\n", 0, err.start) + 1
            column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
            raise ConfigError(
                self.path,
                line,
                f"not valid UTF-8 (byte 0x{data[err.start]:02x} at column {column}); "
                "save the config file as UTF-8",
            ) from None
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise self._syntax_error(str(err), text) from None
        except RecursionError:
            raise ConfigError(self.path, None, "arrays or tables nested too deeply") from None
        self.locator = _Locator(text)

        for name, value in doc.items():
            if name not in SECTIONS:
                kind = "section" if isinstance(value, dict) else "top-level key"
                raise ConfigError(
                    self.path,
                    self.locator.line_of((name,)),
                    _unknown(kind, name, "", SECTIONS, quote=not isinstance(value, dict)),
                )
        ssh = self._ssh(doc.get("ssh", {}))
        hosts = self._hosts(doc.get("hosts", {}))
        agents = self._agents(doc.get("agents", {}))
        keys = self._keys(doc.get("keys", {}))
        hooks = self._hooks(doc.get("hooks", {}))
        notify = self._ui(doc.get("ui", {}))
        return Config(
            path=self.path,
            exists=True,
            ssh=ssh,
            hosts=hosts,
            agents=agents,
            keys=keys,
            hooks=hooks,
            notify=notify,
            lines=dict(self.locator.index),
        )

    def _syntax_error(self, message: str, text: str) -> ConfigError:
        m = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", message, re.DOTALL)
        if m:
            return ConfigError(self.path, int(m[2]), f"invalid TOML: {m[1]} (at column {m[3]})")
        m = re.fullmatch(r"(.*) \(at end of document\)", message, re.DOTALL)
        if m:
            last = len(text.rstrip("\n").split("\n"))
            return ConfigError(self.path, last, f"invalid TOML: {m[1]} (at the end of the file)")
        return ConfigError(self.path, None, f"invalid TOML: {message}")

    # ---- [ssh]

    def _ssh(self, value: object) -> SshSettings:
        key: KeyPath = ("ssh",)
        table = self.table(key, value, "a table [ssh]")
        self.check_keys(key, table, SSH_KEYS)
        default = SshSettings()
        config_file = _default_ssh(self.env)
        if "config" in table:
            config_file = self._ssh_config((*key, "config"), table["config"])

        def seconds(name: str, fallback: float, positive: bool = False) -> float:
            if name not in table:
                return fallback
            return self.seconds((*key, name), table[name], positive=positive)

        def whole(name: str, fallback: int) -> int:
            if name not in table:
                return fallback
            return self.whole((*key, name), table[name], "a whole number")

        return SshSettings(
            config_file=config_file,
            keepalive=seconds("keepalive", default.keepalive),
            keepalive_count=whole("keepalive_count", default.keepalive_count),
            connect_timeout=seconds("connect_timeout", default.connect_timeout, positive=True),
            max_connects=whole("max_connects", default.max_connects),
        )

    def _ssh_config(self, key: KeyPath, value: object) -> Path | None:
        if value == "" or value is False:
            return None
        if not isinstance(value, str):
            raise self.expected(key, 'a path to an ssh config file (or "" for none)', value)
        path = expand_user(value, self.env)
        if not path.is_absolute():
            path = self.path.parent / path
        if not path.is_file():
            problem = "is a directory" if path.is_dir() else "does not exist"
            raise self.fail(key, f"ssh config file {describe(str(path))} {problem}")
        return path

    # ---- [hosts.NAME]

    def _hosts(self, value: object) -> dict[str, HostConfig]:
        key: KeyPath = ("hosts",)
        table = self.table(key, value, "a table of hosts like [hosts.alpha]")
        hosts: dict[str, HostConfig] = {}
        for name, entry in table.items():
            host_key: KeyPath = (*key, name)
            if not NAME_RE.fullmatch(name):
                raise self.fail(
                    host_key,
                    f"invalid host name {describe(name)}: expected {NAME_RULE} "
                    "(host names appear in session refs HOST/NAME)",
                )
            shown = format_key(host_key)
            host = self.table(host_key, entry, f'a table [{shown}] with ssh = "alias"')
            self.check_keys(host_key, host, HOST_KEYS)
            target = host.get("ssh", name)
            if not isinstance(target, str):
                raise self.expected((*host_key, "ssh"), TARGET_EXAMPLE, target)
            try:
                parse_target(target)
            except ValueError as err:
                raise self.fail((*host_key, "ssh"), str(err)) from None
            hosts[name] = HostConfig(
                name=name, ssh=target, line=self.locator.line_of(host_key) or 0
            )
        return hosts

    # ---- [agents.NAME]

    def _agents(self, value: object) -> dict[str, dict[str, object]]:
        key: KeyPath = ("agents",)
        table = self.table(key, value, "a table of agent profiles like [agents.myagent]")
        agents: dict[str, dict[str, object]] = {}
        for name, entry in table.items():
            agent_key: KeyPath = (*key, name)
            if not NAME_RE.fullmatch(name):
                raise self.fail(
                    agent_key, f"invalid agent name {describe(name)}: expected {NAME_RULE}"
                )
            shown = format_key(agent_key)
            profile = self.table(agent_key, entry, f"a table [{shown}] of profile settings")
            self.check_keys(agent_key, profile, AGENT_KEYS)
            agents[name] = {
                field_name: self.profile_value(agent_key, field_name, field_value)
                for field_name, field_value in profile.items()
            }
        return agents

    # ---- [keys]

    def _keys(self, value: object) -> dict[str, str]:
        key: KeyPath = ("keys",)
        table = self.table(key, value, "a table [keys] of action = key")
        keys: dict[str, str] = {}
        for name, binding in table.items():
            if not isinstance(binding, str):
                raise self.expected((*key, name), 'a key name like "ctrl+r"', binding)
            keys[name] = binding
        return keys

    # ---- [ui]

    def _ui(self, value: object) -> str:
        key: KeyPath = ("ui",)
        table = self.table(key, value, "a table [ui] of TUI settings")
        self.check_keys(key, table, UI_KEYS)
        notify = table.get("notify", "bell")
        if notify not in NOTIFY_MODES:
            raise self.expected(
                (*key, "notify"), "one of " + ", ".join(f'"{m}"' for m in NOTIFY_MODES), notify
            )
        return str(notify)

    # ---- [hooks]

    def _hooks(self, value: object) -> HookSettings:
        key: KeyPath = ("hooks",)
        table = self.table(key, value, 'a table [hooks] of event = "command"')
        for name in table:
            if name not in HOOK_KEYS:
                raise ConfigError(
                    self.path,
                    self.locator.line_of((*key, name)),
                    _unknown("event", name, " in [hooks]", HOOK_KEYS, quote=True),
                )
        timeout = HookSettings.timeout
        if "timeout" in table:
            timeout = self.seconds((*key, "timeout"), table["timeout"], positive=True)
        commands: dict[str, tuple[Hook, ...]] = {}
        for name, entry in table.items():
            if name != "timeout":
                commands[name] = (self._hook((*key, name), name, entry),)
        return HookSettings(timeout=timeout, commands=commands, cwd=self.path.parent)

    def _hook(self, key: KeyPath, event: str, value: object) -> Hook:
        line = self.locator.line_of(key) or 0
        what = 'a shell command string or a list of arguments like ["~/bin/page-me", "--urgent"]'
        if isinstance(value, str):
            if not value.strip():
                raise self.expected(key, f"a non-empty command: {what}", value)
            if "\0" in value:
                raise self.fail(key, "the command contains a NUL character")
            return Hook(event=event, argv=("/bin/sh", "-c", value), shell=True, line=line)
        if not isinstance(value, list):
            raise self.expected(key, what, value)
        if not value:
            raise self.fail(key, f"expected a non-empty list of arguments, got [] ({what})")
        for i, arg in enumerate(value):
            if not isinstance(arg, str):
                raise self.expected((*key, i), "a string argument", arg)
            if "\0" in arg:
                raise self.fail((*key, i), "the argument contains a NUL character")
        if not value[0].strip():
            raise self.expected((*key, 0), "a program name or path", value[0])
        return Hook(event=event, argv=(self._program(value[0]), *value[1:]), line=line)

    def _program(self, program: str) -> str:
        """``~/bin/x`` -> the home's bin/x; ``./x`` or ``hooks/x`` -> next to this config file;
        a bare name stays a bare name (found on PATH)."""
        if program.startswith("~"):
            return str(expand_user(program, self.env))
        if "/" in program and not program.startswith("/"):
            return str(self.path.parent / program)
        return program
