"""`fleet trust HOST`: show the key a host offers and record it only when the person says so.

With --yes (scripts) it is recorded without asking; without --yes it asks on the terminal, and
with no terminal to ask on it refuses rather than trust silently. A changed key is never
replaced: the message gives the exact command that removes the old one, to run knowingly.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from fleet.core.config import Config
from fleet.core.errors import FleetError, NotFound, UsageError
from fleet.core.textsafe import inert
from fleet.core.trust import HostKeyOffer, KeyState, fetch_offer, record


def describe(offer: HostKeyOffer) -> str:
    return (
        f"{offer.host} ({offer.target}, {offer.address}) offers this host key:\n"
        f"  {offer.fingerprint}  {offer.algorithm}\n"
        f"On the host, `ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` prints its fingerprints: "
        f"check that one of them is this one (or ask the host's owner).\n"
    )


def ask(question: str, stdin: TextIO, out: TextIO) -> bool:
    out.write(question)
    out.flush()
    answer = stdin.readline()
    if not answer:
        out.write("\n")
    return answer.strip().lower() in ("y", "yes")


def main(
    config: Config,
    host: str,
    yes: bool = False,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
) -> int:
    stdin = stdin if stdin is not None else sys.stdin
    out = out if out is not None else sys.stdout
    if host not in config.hosts:
        known = ", ".join(sorted(config.hosts)) or f"none configured in {config.path}"
        raise NotFound(f"unknown host {host!r} (hosts: {known})")
    offer = asyncio.run(fetch_offer(host, config.hosts[host].ssh, config.ssh))
    out.write(inert(describe(offer)))
    if offer.state is KeyState.TRUSTED:
        out.write(f"Already trusted: this key is in {offer.recorded_in}.\n")
        return 0
    if offer.state is KeyState.CHANGED:
        raise FleetError(
            f"{host}: host key CHANGED: {offer.recorded_in} holds another key for "
            f"{offer.known_name}. Someone may be intercepting the connection, or the host was "
            f"reinstalled; fleet never replaces a recorded key. Once you know why it changed, "
            f"remove the old key with `{offer.remove_command}`, then run "
            f"`fleet trust {host}` again."
        )
    if not yes:
        try:
            interactive = stdin.isatty()
        except (ValueError, OSError):
            interactive = False
        if not interactive:
            raise UsageError(
                f"not trusting {host}: there is no terminal to ask on. Check the fingerprint "
                f"above, then run `fleet trust {host} --yes`."
            )
        if not ask(f"Trust it and add it to {offer.known_hosts}? [y/N] ", stdin, out):
            out.write(f"Not trusted; nothing was written. {host} stays unreachable.\n")
            return 1
    path = record(offer)
    out.write(f"Trusted: added {offer.known_name} to {path}.\n")
    return 0
