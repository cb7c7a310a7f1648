"""Where fleet keeps its files on this machine: the config file and the state directory.

Every function takes the environment as a mapping so tests (and callers) never depend on the
real home directory. ``~`` is expanded against ``env["HOME"]`` when it is set.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

STATE_DIR_MODE = 0o700


def home_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The user's home: ``$HOME`` from ``env`` if set, else what the OS says."""
    home = env.get("HOME")
    return Path(home) if home else Path.home()


def expand_user(path: str | Path, env: Mapping[str, str] = os.environ) -> Path:
    """Expand a leading ``~`` (or ``~/...``) against ``env``'s HOME; ``~user`` via the OS."""
    text = os.fspath(path)
    if text == "~":
        return home_dir(env)
    if text.startswith("~/"):
        return home_dir(env) / text[2:]
    if text.startswith("~"):
        return Path(os.path.expanduser(text))
    return Path(text)


def _xdg_dir(env: Mapping[str, str], var: str, default: str) -> Path:
    # The XDG spec: an unset, empty or relative value is ignored.
    value = env.get(var, "")
    if value:
        candidate = expand_user(value, env)
        if candidate.is_absolute():
            return candidate
    return home_dir(env) / default


def config_source(
    explicit: str | Path | None, env: Mapping[str, str] = os.environ
) -> tuple[Path, str | None]:
    """The config path, and who named it: ``"--config"``, ``"$FLEET_CONFIG"`` or None (default).

    A file the user named that does not exist is an error; the default file may be absent.
    """
    if explicit is not None and os.fspath(explicit) != "":
        return expand_user(explicit, env), "--config"
    from_env = env.get("FLEET_CONFIG", "")
    if from_env:
        return expand_user(from_env, env), "$FLEET_CONFIG"
    return _xdg_dir(env, "XDG_CONFIG_HOME", ".config") / "fleet" / "fleet.toml", None


def config_path(explicit: str | Path | None, env: Mapping[str, str] = os.environ) -> Path:
    """``--config PATH`` if given, else ``$FLEET_CONFIG``, else
    ``$XDG_CONFIG_HOME/fleet/fleet.toml`` (``XDG_CONFIG_HOME`` defaulting to ``~/.config``)."""
    return config_source(explicit, env)[0]


def state_dir(env: Mapping[str, str] = os.environ) -> Path:
    """``$FLEET_HOME``, else ``$XDG_DATA_HOME/fleet`` (default ``~/.local/share/fleet``)."""
    fleet_home = env.get("FLEET_HOME", "")
    if fleet_home:
        return expand_user(fleet_home, env)
    return _xdg_dir(env, "XDG_DATA_HOME", ".local/share") / "fleet"


def ensure_state_dir(env: Mapping[str, str] = os.environ) -> Path:
    """Create the state directory (mode 0700, parents as needed) and return it.

    If it already exists with group or other permissions, tighten it to 0700: it holds the
    store, the log and the audit trail.
    """
    path = state_dir(env)
    path.mkdir(mode=STATE_DIR_MODE, parents=True, exist_ok=True)
    # mkdir's mode is filtered by the umask and ignored for an existing directory.
    if stat.S_IMODE(path.stat().st_mode) != STATE_DIR_MODE:
        path.chmod(STATE_DIR_MODE)
    return path
