"""An ssh target as the config writes it: an alias, user@host, host:port, user@host:port."""

from __future__ import annotations

import json
import re
from typing import Final

from fleet.core.config.model import TARGET_EXAMPLE, describe

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
