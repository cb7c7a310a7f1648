"""Which version of each agent CLI a host runs, against the version its profile was checked on.

A profile's screen patterns key off the CLI's UI chrome, which moves between releases: a CLI
newer than the profile's `verified` version is flagged so the person knows status detection may
drift (`fleet agents`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fleet.core.errors import HostError
from fleet.core.models import AgentProfile

if TYPE_CHECKING:
    from fleet.core.remote.client import HelperClient

# "codex-cli 0.169.0", "0.61.0", "2.1.328 (Claude Code)", "aider 0.86.2", "v1.2.3-beta.1".
_VERSION_RE = re.compile(r"(?<![\w.])v?(\d+(?:\.\d+){1,3})(?:[-+]([0-9A-Za-z.-]+))?")


def parse_version(text: str) -> tuple[int, ...] | None:
    """The release numbers of the first version in `text`; None when it holds none."""
    match = _VERSION_RE.search(text)
    if match is None:
        return None
    return tuple(int(part) for part in match.group(1).split("."))


def version_text(text: str) -> str | None:
    """The first version in `text` as written ("0.169.0", "1.2.3-beta.1"), without a "v"."""
    match = _VERSION_RE.search(text)
    if match is None:
        return None
    return match.group(0).removeprefix("v")


def compare(found: str, verified: str) -> int | None:
    """-1, 0 or 1 as `found` is older than, the same as or newer than `verified` (release
    numbers only, missing ones counting as 0); None when either holds no version."""
    a, b = parse_version(found), parse_version(verified)
    if a is None or b is None:
        return None
    width = max(len(a), len(b))
    a += (0,) * (width - len(a))
    b += (0,) * (width - len(b))
    return (a > b) - (a < b)


@dataclass(frozen=True)
class AgentVersion:
    """One agent CLI on one host."""

    host: str
    agent: str
    version: str | None  # as the CLI printed it; None when not found or not asked
    verified: str | None
    note: str  # "" when all is well

    @property
    def newer(self) -> bool:
        if not self.version or not self.verified:
            return False
        return compare(self.version, self.verified) == 1

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "agent": self.agent,
            "version": self.version,
            "verified": self.verified,
            "newer": self.newer,
            "note": self.note,
        }


def judge(host: str, profile: AgentProfile, answer: Mapping[str, Any]) -> AgentVersion:
    """What the helper's answer for one agent means to the person."""
    verified = profile.verified
    error = answer.get("error")
    if isinstance(error, str):
        return AgentVersion(host, profile.name, None, verified, error)
    code = answer.get("code")
    output = str(answer.get("output") or "")
    if code == 127:
        return AgentVersion(host, profile.name, None, verified, "not installed")
    found = version_text(output)
    if code != 0 or found is None:
        shown = output or f"exit status {code}"
        return AgentVersion(host, profile.name, None, verified, f"no version: {shown}")
    note = ""
    if verified:
        order = compare(found, verified)
        if order == 1:
            note = f"newer than verified {verified}: detection may drift"
        elif order == -1:
            note = f"older than verified {verified}"
    return AgentVersion(host, profile.name, found, verified, note)


async def host_versions(
    host: str, helper: HelperClient, profiles: Iterable[AgentProfile]
) -> list[AgentVersion]:
    """Ask one host for every profile that knows how to ask its CLI; a host that cannot be
    reached gives one row per agent saying why."""
    asked = [p for p in profiles if p.version_command]
    if not asked:
        return []
    commands = {p.name: p.version_command for p in asked}
    try:
        answers = await helper.call("agent_versions", {"commands": commands})
    except HostError as exc:
        return [AgentVersion(host, p.name, None, p.verified, exc.reason) for p in asked]
    if not isinstance(answers, dict):
        answers = {}
    rows = []
    for profile in asked:
        answer = answers.get(profile.name)
        if not isinstance(answer, dict):
            answer = {"error": "no answer from the host"}
        rows.append(judge(host, profile, answer))
    return rows


async def fleet_versions(
    helpers: Mapping[str, HelperClient], profiles: Iterable[AgentProfile]
) -> list[AgentVersion]:
    """Every host at once, rows in host order."""
    wanted = list(profiles)
    per_host = await asyncio.gather(
        *(host_versions(host, helper, wanted) for host, helper in helpers.items())
    )
    return [row for rows in per_host for row in rows]
