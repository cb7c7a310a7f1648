"""Fuzz the config parser (fleet.core.config.load_config): whatever the file holds (random
bytes, TOML of the right shape with wrong values, hostile strings), loading raises only
ConfigError, whose message names the file, is one bounded line and carries no control
character; then resolving the agent profiles raises only ValueError (the supervisor turns it
into a UsageError). Pure units: files in a temporary directory, no host.
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.core.agents import resolve_profiles
from fleet.core.config import AGENT_KEYS, HOOK_KEYS, SSH_KEYS, Config, ConfigError, load_config

SETTINGS = settings(max_examples=150, deadline=None)
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")

SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "", "-oProxyCommand=touch /tmp/x", "a\x00b", "(((", "[", "^(a)$", "~/../../etc",
            "user@host:99999", "user@@host", "[::1]:0", "\x1b]52;c;eA==\x07", "\u202e",
            "alpha/beta", "C-c", "type", "paste", "bell", "x" * 5000,
        ]
    ),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return (
            {float("inf"): "inf", float("-inf"): "-inf"}.get(value, repr(value)).replace(
                "nan", "nan"
            )
            if value == value
            else "nan"
        )
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string accepts JSON's escapes
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def _document(draw: st.DrawFn) -> str:
    lines = []
    section = draw(st.sampled_from(["ssh", "hosts.alpha", "agents.mine", "hooks", "keys", "ui"]))
    keys = {
        "ssh": list(SSH_KEYS),
        "hosts.alpha": ["ssh"],
        "agents.mine": list(AGENT_KEYS),
        "hooks": list(HOOK_KEYS),
        "keys": ["quit", "open-diff", "nope"],
        "ui": ["notify"],
    }[section]
    lines.append(f"[{section}]")
    for key in draw(st.lists(st.sampled_from([*keys, "unknown"]), max_size=4, unique=True)):
        lines.append(f"{json.dumps(key)} = {_toml_value(draw(VALUES))}")
    return "\n".join(lines) + "\n"


DOCUMENTS = st.composite(_document)()


def _config(data: bytes) -> Config | None:
    """`data` loaded as a config file; None when it is refused, after checking that the error
    names the file and is one bounded line with no control character."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fleet.toml"
        path.write_bytes(data)
        try:
            return load_config(path, env={"HOME": d})
        except ConfigError as err:
            text = str(err)
            assert text.startswith(str(path)), text
            assert "\n" not in text.strip() or len(text) < 4000, text[:300]
            assert len(text) < 4000, len(text)
            assert not CONTROL.search(err.message), ascii(err.message[:200])
            return None


def _load(data: bytes) -> None:
    config = _config(data)
    if config is not None:
        with contextlib.suppress(ValueError):
            resolve_profiles(config.agents)


@SETTINGS
@given(DOCUMENTS)
def test_shaped_documents_raise_only_config_error(text: str) -> None:
    _load(text.encode("utf-8", "surrogatepass"))


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_config_error(data: bytes) -> None:
    _load(data)


@pytest.mark.parametrize(
    "text",
    [
        "[ssh]\nkeepalive = nan\n",
        "[ssh]\nkeepalive = inf\n",
        "[ssh]\nconnect_timeout = -1\n",
        '[ssh]\nconfig = "\\u0000"\n',
        '[hosts.alpha]\nssh = "-oProxyCommand=touch /tmp/x"\n',
        '[hosts."../x"]\nssh = "a"\n',
        '[hosts.alpha]\nssh = "user@host:0"\n',
        '[hosts.alpha]\nssh = "\\u001b]52;c;eA==\\u0007"\n',
        '[agents.x]\ncommand = ""\n',
        '[agents.x]\ncommand = "a\\u0000b"\n',
        '[agents.x]\ncommand = "x {task}"\nwaiting = ["(((" ]\n',
        '[agents.x]\ncommand = "x {task}"\nsession_id = "no group"\n',
        '[agents.x]\ncommand = "x {task}"\nidle_after = nan\n',
        '[agents.x]\ncommand = "x {task}"\nenter_delay = 1e308\n',
        '[agents.x]\ncommand = "x {task}"\ninterrupt = ["C-c; rm -rf /"]\n',
        '[agents.x]\ncommand = "x {task}"\nsend_mode = "\\u202etype"\n',
        "[hooks]\ntimeout = 0\n",
        "[hooks]\nfailed = []\n",
        '[hooks]\nfailed = ["a\\u0000"]\n',
        "[keys]\nquit = 5\n",
        '[ui]\nnotify = "osc52"\n',
        "[ssh\n",
        "\xff\xfe",
        "a = " + "[" * 5000 + "]" * 5000 + "\n",
    ],
)
def test_malformed_values_are_config_errors(text: str) -> None:
    config = _config(text.encode("latin-1") if text == "\xff\xfe" else text.encode())
    if config is not None:
        with pytest.raises(ValueError):
            resolve_profiles(config.agents)
