#!/usr/bin/env python3
"""POST a fleet event to any webhook (Linear, Discord, n8n, Zapier, your own service).

    export FLEET_WEBHOOK_URL=https://example.com/fleet-events        # required
    export FLEET_WEBHOOK_AUTH="Bearer lin_api_..."                     # optional Authorization
    [hooks]
    "*" = ["~/src/fleet/examples/hooks/webhook.py"]
    failed = ["~/src/fleet/examples/hooks/webhook.py", "--text"]

The event arrives as JSON on stdin and is sent as the request body, as it is; with ``--text``
the body is ``{"text": "alpha/fix-login: needs-input"}`` instead (Slack, Mattermost, Discord
with ``/slack`` and most chat webhooks take that). Only the standard library is used. The URL
and the token come from the environment, never from the command line, and are never printed:
errors name the HTTP status or the network problem only.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

TIMEOUT = 8.0  # seconds; keep it under fleet's [hooks] timeout (default 10)


def body_for(event: dict[str, object], text: bool) -> bytes:
    if not text:
        return json.dumps(event).encode("utf-8")
    ref = event.get("ref") or event.get("host") or "?"
    line = f"{ref}: {event.get('event', '?')}"
    detail = event.get("detail")
    if isinstance(detail, dict):
        extra = detail.get("message") or detail.get("reason")
        if extra:
            line += f" ({str(extra)[:500]})"
    return json.dumps({"text": line}).encode("utf-8")


def main(argv: list[str]) -> int:
    url = os.environ.get("FLEET_WEBHOOK_URL", "")
    if not url.startswith(("https://", "http://")):
        print("webhook.py: set FLEET_WEBHOOK_URL to an http(s) URL", file=sys.stderr)
        return 2
    try:
        event = json.load(sys.stdin)
    except ValueError:
        print("webhook.py: stdin is not a JSON event", file=sys.stderr)
        return 2
    headers = {"Content-Type": "application/json", "User-Agent": "fleet-hook"}
    auth = os.environ.get("FLEET_WEBHOOK_AUTH")
    if auth:
        headers["Authorization"] = auth
    request = urllib.request.Request(
        url, data=body_for(event, "--text" in argv), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            response.read(64 * 1024)
    except urllib.error.HTTPError as err:
        print(f"webhook.py: HTTP {err.code} {err.reason}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        print(f"webhook.py: request failed: {type(reason).__name__}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
