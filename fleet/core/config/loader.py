"""Loading fleet.toml: read, parse, check every section, and build a Config."""

from __future__ import annotations

import codecs
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from fleet.core.config.budgets import parse_budgets
from fleet.core.config.checks import ValueChecks, _unknown
from fleet.core.config.locate import KeyPath, _Locator, format_key
from fleet.core.config.model import (
    AGENT_KEYS,
    HOOK_KEYS,
    HOST_KEYS,
    MAX_SESSIONS,
    NAME_RE,
    NAME_RULE,
    NOTIFY_MODES,
    SECTIONS,
    SSH_KEYS,
    TARGET_EXAMPLE,
    UI_KEYS,
    Config,
    ConfigError,
    Hook,
    HookSettings,
    HostConfig,
    SshSettings,
    describe,
)
from fleet.core.config.pools import parse_pools
from fleet.core.config.targets import parse_target
from fleet.core.paths import config_source, expand_user, home_dir
from fleet.core.usage import PRICE_KEYS, Price

MAX_PRICE = 10_000.0  # dollars per million tokens: anything above is a typo


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
        pools = parse_pools(self, doc.get("pools", {}), hosts)
        agents = self._agents(doc.get("agents", {}))
        keys = self._keys(doc.get("keys", {}))
        hooks = self._hooks(doc.get("hooks", {}))
        notify = self._ui(doc.get("ui", {}))
        prices = self._prices(doc.get("prices", {}))
        budgets = parse_budgets(self, doc.get("budgets", {}), hosts)
        return Config(
            path=self.path,
            exists=True,
            ssh=ssh,
            hosts=hosts,
            pools=pools,
            agents=agents,
            keys=keys,
            hooks=hooks,
            notify=notify,
            prices=prices,
            budgets=budgets,
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
            limit = host.get("max_sessions", MAX_SESSIONS)
            hosts[name] = HostConfig(
                name=name,
                ssh=target,
                line=self.locator.line_of(host_key) or 0,
                max_sessions=self.whole((*host_key, "max_sessions"), limit, "a whole number"),
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

    # ---- [prices.MODEL]

    def _prices(self, value: object) -> dict[str, Price]:
        key: KeyPath = ("prices",)
        table = self.table(key, value, 'a table of models like [prices."claude-sonnet-4-5"]')
        prices: dict[str, Price] = {}
        for model, entry in table.items():
            model_key: KeyPath = (*key, model)
            shown = format_key(model_key)
            what = f"a table [{shown}] with input = and output = (dollars per million tokens)"
            price = self.table(model_key, entry, what)
            self.check_keys(model_key, price, PRICE_KEYS)
            for needed in ("input", "output"):
                if needed not in price:
                    raise self.fail(model_key, f"{needed} is missing (dollars per million tokens)")
            numbers = {k: self._price((*model_key, k), v) for k, v in price.items()}
            prices[model] = Price(**numbers)
        return prices

    def _price(self, key: KeyPath, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.expected(key, "a number of dollars per million tokens", value)
        if not 0 <= value <= MAX_PRICE:
            raise self.expected(key, f"dollars per million tokens, 0 to {MAX_PRICE:g}", value)
        return float(value)

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
