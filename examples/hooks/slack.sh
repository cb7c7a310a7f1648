#!/bin/sh
# Post a fleet event to Slack through an incoming webhook.
#
#   export SLACK_WEBHOOK_URL=https://hooks.slack.com/services/...   (in the env fleet runs in)
#   [hooks]
#   needs-input = ["~/src/fleet/examples/hooks/slack.sh"]
#   failed = ["~/src/fleet/examples/hooks/slack.sh"]
#
# The event arrives as JSON on stdin. The message is built by python3 from that JSON and sent as
# a file: no event text is ever pasted into a shell command. The webhook URL (a secret) is given
# to curl on its stdin as a config line, so it never shows in `ps` or in fleet's logs.
set -eu

if [ -z "${SLACK_WEBHOOK_URL:-}" ]; then
    echo "slack.sh: SLACK_WEBHOOK_URL is not set" >&2
    exit 2
fi

payload=$(mktemp "${TMPDIR:-/tmp}/fleet-slack.XXXXXX")
trap 'rm -f "$payload"' EXIT
trap 'exit 143' INT TERM

python3 -c '
import json, sys

event = json.load(sys.stdin)

def esc(text):
    # Slack reads <...> as links and mentions (<!channel>): agent text must stay plain.
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

kind = event.get("event", "?")
icon = {"needs-input": ":raising_hand:", "failed": ":x:", "exited": ":checkered_flag:",
        "lost": ":electric_plug:", "back": ":white_check_mark:"}.get(kind, ":robot_face:")
ref = event.get("ref") or event.get("host", "?")
text = f"{icon} *{esc(ref)}*: {esc(kind)}"
detail = event.get("detail") or {}
for key in ("message", "reason", "exit_code", "task"):
    if detail.get(key) not in (None, ""):
        text += f"\n>{esc(key)}: {esc(str(detail[key])[:500])}"
json.dump({"text": text}, sys.stdout)
' >"$payload"

# "url = ..." on curl's stdin (-K -): the URL is data here, never part of a command line.
printf 'url = "%s"\n' "$SLACK_WEBHOOK_URL" |
    curl --silent --show-error --fail --max-time 8 \
        --header 'Content-Type: application/json' \
        --data-binary "@$payload" \
        --output /dev/null \
        --config -
