"""Data to words, for every face: the CLI and the TUI say a session's state the same way.

Pure functions over fleet's types (no Textual, no printing): ages, status labels, change
counts, host link labels, plurals. A face adds only its own layout and colour.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fleet.core.fleetstate import GONE, HostState
from fleet.core.models import DiffStat, Session, Status
from fleet.core.results import Delivery, Rejected
from fleet.core.textsafe import inert, said


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 file`, `2 files`, `0 files` (`many` for irregular words)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def numbered(word: str, numbers: Sequence[int], many: str | None = None) -> str:
    """Things by number: `hunk 3`, `hunks 1, 2, 5`, `no hunks`."""
    noun = word if len(numbers) == 1 else (many or word + "s")
    if not numbers:
        return f"no {noun}"
    return f"{noun} {', '.join(str(n) for n in numbers)}"


def size(n: int) -> str:
    """A number of bytes for a person: `512 B`, `3.4 kB`, `1.2 GB` (powers of 1024)."""
    if n < 1024:
        return f"{max(0, n)} B"
    value = float(n)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            break
    return f"{value:.1f} {unit}"


def age(seconds: float) -> str:
    """A short duration: 12s, 3m, 2h, 1h05m, 4d."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        hours, minutes = divmod(s // 60, 60)
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    return f"{s // 86400}d"


def age_since(since: float, now: float) -> str:
    """How long ago `since` was, or "-" when it is not known (0)."""
    return age(now - since) if since else "-"


def ago(since: float, now: float) -> str:
    """`3m ago`, or "-" when it is not known (0)."""
    return f"{age(now - since)} ago" if since else "-"


def status_label(shown: str, exit_code: int | None) -> str:
    """A shown status as words: `failed (3)`, `exited (0)`, `needs-input`, `gone` ..."""
    if shown in (Status.FAILED, Status.EXITED) and exit_code is not None:
        return f"{shown} ({exit_code})"
    return shown


def session_status(session: Session) -> str:
    """The status the host last gave the session, as words."""
    return status_label(str(session.status), session.exit_code)


def changes(diffstat: DiffStat) -> str:
    """`+14 -3 · 2 files`, `+14 -3 · 2 files · 5/17 approved` (changed lines), `no changes`."""
    if not diffstat.files:
        return "no changes"
    text = f"+{diffstat.added} -{diffstat.removed} · {plural(diffstat.files, 'file')}"
    approved = approved_label(diffstat)
    return f"{text} · {approved}" if approved else text


def approved_label(diffstat: DiffStat) -> str:
    """How much of the change is approved, in changed lines: `5/17 approved`, or ""."""
    if not diffstat.approved:
        return ""
    return f"{diffstat.approved}/{diffstat.added + diffstat.removed} approved"


def unread_label(unread: int) -> str:
    return f"{unread} new" if unread else ""


def host_label(host: HostState, now: float) -> str:
    """A host's link as words: `connected`, `reconnecting in 4s`,
    `unreachable: why (retry in 4s)`."""
    wait = max(0, round(host.retry_at - now)) if host.retry_at is not None else 0
    if host.state == "reconnecting":
        return f"reconnecting in {wait}s" if wait else "reconnecting"
    if host.state == "unreachable":
        reason = said(host.reason[:800], 200)
        text = f"unreachable: {reason}" if reason else "unreachable"
        return f"{text} (retry in {wait}s)" if wait else text
    return host.state


HOSTS_NAMED = 4  # beyond this many hosts, a summary counts them by state instead


def host_summary(hosts: Iterable[HostState], now: float) -> list[str]:
    """The hosts in a line: each by name in a small fleet; in a large one, a count per state,
    naming the hosts that are not connected (the ones the person must look at) first."""
    states = list(hosts)
    if len(states) <= HOSTS_NAMED:
        return [f"{h.name}: {inert(host_label(h, now))}" for h in states]
    by_state: dict[str, list[HostState]] = {}
    for h in states:
        by_state.setdefault(h.state, []).append(h)
    parts = []
    for state, group in sorted(by_state.items(), key=lambda kv: kv[0] == "connected"):
        if state == "connected":
            parts.append(f"{len(group)} connected")
            continue
        names = ", ".join(h.name for h in group[:HOSTS_NAMED])
        more = f" +{len(group) - HOSTS_NAMED}" if len(group) > HOSTS_NAMED else ""
        parts.append(f"{len(group)} {state} ({inert(names)}{more})")
    return [f"{len(states)} hosts: " + "  ·  ".join(parts)]


def listed_status(
    session: Session,
    *,
    gone: bool,
    lost: bool,
    cached_at: float | None = None,
    now: float = 0.0,
) -> str:
    """The STATUS column of a list of sessions: what is known, and how it is known.
    `cached_at`: the list is fleet's cache alone (no host was asked), as of then."""
    if gone:
        return GONE
    if cached_at is not None:
        return f"{session_status(session)} (cached {ago(cached_at, now)})"
    if lost:
        return f"lost ({session_status(session)} when last seen)"
    return session_status(session)


def note_delivery(result: Rejected) -> str:
    """What became of a rejection's note to the agent, in words."""
    agent = result.session.agent
    match result.delivery:
        case Delivery.TOLD:
            return "told the agent"
        case Delivery.QUEUED:
            why = result.waits or "not at its input"
            return f"note queued: the agent is {why} (typed once it is back at its input)"
        case Delivery.NOT_PROSE:
            return f"note not sent: {agent} does not read prose (kept in the decision's record)"
        case _:
            return "note not sent: the agent is not running"
