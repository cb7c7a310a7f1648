"""Data to words, for every face: the CLI and the TUI say a session's state the same way.

Pure functions over fleet's types (no Textual, no printing): ages, status labels, change
counts, host link labels, plurals. A face adds only its own layout and colour.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from fleet.core.budgets import Budget, Crossing
from fleet.core.fleetstate import GONE, HostState
from fleet.core.models import DiffStat, Session, Status, Waiting
from fleet.core.results import Delivery, Rejected, TmuxServer, Undone
from fleet.core.textsafe import inert, said
from fleet.core.usage import APPROXIMATE, Tokens, known


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


def waiting_line(waiting: Waiting | None) -> str:
    """What a needs-input agent waits for, in one line: `wants to run Bash: npm test`,
    `asks: Which file?`, `asks: Continue? (y Yes, n No)`, `login: Not logged in`,
    `error: API Error: 400`; "" when it did not say."""
    if waiting is None:
        return ""
    if waiting.kind == "tool":
        what = f": {waiting.input}" if waiting.input else ""
        return f"wants to run {waiting.tool or 'a tool'}{what}"
    if waiting.kind in ("question", "choice"):
        asks = f"asks: {waiting.input}" if waiting.input else "asks a question"
        if waiting.options:
            asks += " (" + ", ".join(f"{o.key} {o.label}" for o in waiting.options) + ")"
        return asks
    if waiting.kind == "login":
        return f"login: {waiting.input}" if waiting.input else "needs a login"
    what = " ".join(w for w in (waiting.tool, waiting.input) if w)  # "Bash running for over …"
    return f"error: {what}" if what else "stopped on an error"


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


def undone(result: Undone) -> str:
    """What an undo took back: ``the rejection of 2 hunks in a.py, b.py (decision 4)``."""
    what = {"approve": "approval", "reject": "rejection"}.get(result.action, result.action)
    if result.uncommitted:
        what = f"commit {result.uncommitted[:12]} and its approval"
    text = f"the {what}"
    if result.hunks:
        text += f" of {plural(len(result.hunks), 'hunk')}"
    if result.paths:
        text += " in " + ", ".join(result.paths[:3]) + (", …" if len(result.paths) > 3 else "")
    return f"{text} (decision {result.decision})"


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


def cut(text: str, width: int) -> str:
    """`text` in at most `width` characters, … marking a cut."""
    if len(text) <= width:
        return text
    return text[: max(0, width - 1)] + "…" if width > 0 else ""


def header_line(hosts: Sequence[str], right: str, width: int) -> str:
    """The top line in `width` columns: the hosts on the left, `right` (the counts) whole at
    the right edge. A host's long reason is cut before another host is dropped, so one host's
    error never pushes the others off; hosts that still do not fit are counted."""
    room = width - 2 - (len(right) + 4 if right else 0)
    sep = "  ·  "
    parts = list(hosts)
    line = sep.join(parts)
    if len(line) > room and parts:  # short words first: a connected host as its name and ✓
        sep = " · "
        parts = [
            p.removesuffix(": connected") + (" ✓" if p.endswith(": connected") else "")
            for p in parts
        ]
        line = sep.join(parts)
    if len(line) > room and parts:
        parts = _share(parts, room - len(sep) * (len(parts) - 1))
        line = sep.join(parts)
        while len(line) > room and len(parts) > 1:
            parts.pop()
            line = sep.join(parts) + f"{sep}+{len(hosts) - len(parts)} more"
        line = cut(line, max(0, room))
    if not right:
        return line
    return line + " " * max(4, width - 2 - len(line) - len(right)) + right


def _share(parts: list[str], room: int) -> list[str]:
    """Cut the longest parts first until they fit in `room` together (short ones stay
    whole), none below 12 characters."""
    limit = max((len(p) for p in parts), default=0)
    while limit > 12 and sum(min(len(p), limit) for p in parts) > room:
        limit -= 1
    return [cut(p, limit) for p in parts]


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


def tmux_label(tmux: TmuxServer | None) -> str:
    """A host's state as `fleet hosts` shows it, by its tmux server: ok, tmux stuck, ..."""
    if tmux is None or tmux.ok:
        return "ok"
    if tmux.state == "wedged":
        return "tmux stuck" if tmux.how == "closes" else "tmux silent"
    return "tmux broken"


def tmux_words(tmux: TmuxServer) -> str:
    """How a host's tmux server stands, in a sentence (its text came from the host: inert)."""
    pid = f" (pid {tmux.pid})" if tmux.pid else ""
    if tmux.state == "alive":
        return f"fleet's tmux server runs{pid}"
    if tmux.state == "none":
        words = "no tmux server yet (the first session starts one)"
        if tmux.detail == "stale socket":
            words += f"; {tmux.socket} is left from a server that was killed (harmless)"
        return words
    if tmux.state == "error":
        return f"tmux fails: {tmux.detail}"
    if tmux.how == "silent":
        return f"fleet's tmux server{pid} does not answer" + (" (stopped)" if tmux.stopped else "")
    words = (
        f"fleet's tmux server{pid} is stuck in its exit: it closes every connection "
        f'("{tmux.detail or "server exited unexpectedly"}"), so no session can start'
    )
    if tmux.holders:
        words += f"; fleet's control clients {', '.join(map(str, tmux.holders))} hold it"
    return words


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


def token_count(n: int) -> str:
    """A number of tokens for a person: `950`, `12.3k`, `4.1M`."""
    if n < 1000:
        return str(max(0, n))
    if n < 999_950:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


def cost_label(tokens: Tokens) -> str:
    """`$0.41`, `<$0.01`, or `no price` (a model without a price: never a guessed cost)."""
    if tokens.cost is None:
        return "no price"
    if 0 < tokens.cost < 0.005:
        return "<$0.01"
    about = "~" if tokens.approximate and tokens.cost else ""
    return f"{about}${tokens.cost:,.2f}"


def spent_label(tokens: Tokens) -> str:
    """`12.3k tok · $0.41`, `12.3k tok · no price`; `~2.4k tok · ~$0.01` when rounded."""
    about = "~" if tokens.approximate else ""
    return f"{about}{token_count(tokens.total)} tok · {cost_label(tokens)}"


def today_label(tokens: Tokens) -> str:
    """The fleet's day on the top line: `today 1.2M tok · $3.40` ("" before any request)."""
    return f"today {spent_label(tokens)}" if tokens.total else ""


def usage_label(agent: str, tokens: Tokens | None) -> str:
    """What a session spent, compact: `12.3k tok · $0.41`, or `usage unknown`."""
    if not known(agent, tokens):
        return "usage unknown"
    return spent_label(replace(tokens or Tokens(), approximate=agent in APPROXIMATE))


HELD = "paused: over budget"  # on the card of a session a budget paused


def budget_amount(amount: float, budget: Budget) -> str:
    """An amount in the budget's unit: `$5.12`, `2.1M tok`."""
    if budget.limit.unit == "dollars":
        return f"${amount:,.2f}"
    return f"{token_count(int(amount))} tok"


def crossing_words(crossing: Crossing, who: str, paused: Sequence[str] = ()) -> str:
    """What a toast and `fleet watch` say: `alpha/x: 81 % of its session budget ($4.05 of
    $5.00)`, `alpha/x went past ... paused alpha/x (its interrupt key)`."""
    b = crossing.budget
    of = f"{budget_amount(crossing.spent, b)} of {budget_amount(b.limit.amount, b)}"
    name = b.name
    if crossing.level == "warning":
        share = int(100 * crossing.spent / b.limit.amount) if b.limit.amount else 100
        return f"{who}: {share} % of {name} ({of})"
    text = f"{who} went past {name} ({of})"
    if paused:
        text += f": paused {', '.join(paused)} (its interrupt key; nothing typed to it)"
    elif b.limit.action == "pause":
        text += ": nothing was working to pause"
    return text
