#!/bin/sh
# Show a desktop notification for a fleet event: notify-send on Linux, osascript on macOS.
#
#   [hooks]
#   needs-input = ["~/src/fleet/examples/hooks/desktop-notify.sh"]
#   failed = ["~/src/fleet/examples/hooks/desktop-notify.sh"]
#
# The event arrives as JSON on stdin; title and body are read from it by python3 and passed to
# the notifier as arguments (never pasted into a shell or AppleScript command).
set -eu

event=$(cat)
field() {
    printf '%s' "$event" | python3 -c '
import json, sys
event = json.load(sys.stdin)
if sys.argv[1] == "title":
    ref = event.get("ref") or event.get("host", "?")
    print(f"fleet: {ref}")
else:
    detail = event.get("detail") or {}
    extra = detail.get("message") or detail.get("reason") or ""
    text = event.get("event", "?") + (f": {extra}" if extra else "")
    # Notification servers may read markup; keep the text plain, and short.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    print(text[:300])
' "$1"
}
title=$(field title)
body=$(field body)
case "${FLEET_EVENT:-}" in
    needs-input | failed | lost) urgency=critical ;;
    *) urgency=normal ;;
esac

if command -v notify-send >/dev/null 2>&1; then
    exec notify-send --app-name=fleet --urgency="$urgency" -- "$title" "$body"
elif command -v osascript >/dev/null 2>&1; then
    # The text travels as arguments to the script, not inside its source.
    exec osascript \
        -e 'on run argv' \
        -e 'display notification (item 2 of argv) with title (item 1 of argv)' \
        -e 'end run' \
        "$title" "$body"
else
    echo "desktop-notify.sh: neither notify-send nor osascript found" >&2
    exit 2
fi
