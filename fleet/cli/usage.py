"""`fleet usage`: what the fleet spent, from the local store (no host needs to answer)."""

from __future__ import annotations

import argparse
import datetime
import re
import time

from fleet.cli.output import note, print_json, say, table
from fleet.cli.registry import Commands
from fleet.core.supervisor import Supervisor
from fleet.core.usage import BY, Tokens, merged_prices, summarize
from fleet.presentation import cost_label, token_count

commands = Commands()

CATCH_UP = 10.0
"""Seconds `fleet usage` waits for the hosts' journals (what no follower has stored yet)."""

_AGO = re.compile(r"^(\d{1,6})([mhd])\Z")
_UNIT = {"m": 60, "h": 3600, "d": 86400}


def since_time(text: str, now: float | None = None) -> float:
    """`--since`: `today`, a local date `2026-11-24`, or an age `30m`, `12h`, `7d`."""
    now = time.time() if now is None else now
    if text == "today":
        today = datetime.datetime.fromtimestamp(now).date()
        return datetime.datetime.combine(today, datetime.time()).timestamp()
    found = _AGO.match(text)
    if found:
        return now - int(found.group(1)) * _UNIT[found.group(2)]
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid --since {text!r}: use today, a date like 2026-11-24, or 30m, 12h, 7d"
        ) from None
    return datetime.datetime.combine(day, datetime.time()).timestamp()


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--by", choices=BY, default="session", help="add up by (default: session)")
    p.add_argument("--since", type=since_time, default=0.0, help="today, 2026-11-24, 7d, 12h")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--cached",
        action="store_true",
        help="only what fleet stored, without asking the hosts for what no follower stored yet",
    )


@commands.supervised(
    "usage",
    "tokens and cost the agents spent, as their own records say",
    _arguments,
    epilog="Read on the hosts from Claude Code's transcripts, Codex's session records, Gemini "
    "CLI's chat recordings, OpenCode's database (read-only) and Aider's chat history (rounded "
    "figures, shown with ~); other agents' usage is unknown. What the hosts recorded since the "
    "last `fleet watch` or TUI is fetched first (a host not reached is named; --cached skips "
    "it). Costs use fleet's price table and "
    "[prices] in fleet.toml. Budgets: [budgets] in fleet.toml (see examples/fleet.toml).",
)
async def usage(sup: Supervisor, args: argparse.Namespace) -> int:
    store = sup.require_store()
    if not args.cached:
        for host, reason in sorted((await sup.catch_up_usage(CATCH_UP)).items()):
            note(f"fleet: {host}: {reason}; its usage is what fleet stored before")
    await store.flush()
    rows = await store.usage(since=args.since)
    spent = summarize(rows, args.by, merged_prices(sup.config.prices))
    total = sum((s.tokens for s in spent), Tokens())
    if args.json:
        print_json(
            {
                "by": args.by,
                "since": args.since or None,
                "rows": [
                    {args.by: s.key, "requests": s.requests, **s.tokens.to_json()} for s in spent
                ],
                "total": total.to_json(),
            }
        )
        return 0
    if not spent:
        say(
            "no usage recorded yet (fleet reads the records of Claude Code, Codex, Gemini CLI, "
            "OpenCode and Aider)"
        )
        return 0
    head = [args.by.upper(), "REQUESTS", "INPUT", "OUTPUT", "CACHE READ", "CACHE WRITE", "COST"]
    lines = [head]
    for s in spent:
        lines.append([s.key, str(s.requests), *_counts(s.tokens), cost_label(s.tokens)])
    lines.append(["total", str(sum(s.requests for s in spent)), *_counts(total)])
    lines[-1].append(cost_label(total))
    table(lines)
    if total.approximate:
        say("~: from rounded figures (aider prints its tokens as 2.4k)")
    for model in total.unpriced:
        say(f"no price for {model}: add it under [prices] in fleet.toml")
    return 0


def _counts(t: Tokens) -> list[str]:
    about = "~" if t.approximate else ""  # from rounded records (aider's)
    counts = (t.input, t.output, t.cache_read, t.cache_write)
    return [(about if n else "") + token_count(n) for n in counts]
