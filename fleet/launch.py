"""How fleet starts: `fleet` with no words goes straight to the TUI; anything else goes to
the command line (fleet.cli), which imports every command and with them SSH.

The TUI's road imports no command: the app loads the supervisor (and SSH) as it mounts.
Both roads share the configuration step and one way of ending on an error: a plain line for
the person, an exit code, the details in the log.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from fleet.core.config import Config, ConfigError, load_config
from fleet.core.errors import FleetError
from fleet.core.logs import log_path, setup_logging
from fleet.core.textsafe import inert

log = logging.getLogger("fleet.cli")


def note(text: str) -> None:
    """A line for the person, not for a pipe: on stderr."""
    sys.stderr.write(inert(text) + "\n")


def configure(args: argparse.Namespace) -> Config:
    """The config the command line names (--config, $FLEET_CONFIG, the XDG default), and
    fleet's log set up: what every command but the standalone ones starts with."""
    from fleet.core.workspaces import with_workspaces

    # The workspaces fleet made are hosts too (fleet.core.workspaces.records).
    config = with_workspaces(load_config(args.config))
    setup_logging(verbose=args.verbose)
    log.info("fleet %s: %s", args.command or "tui", config.path)
    return config


def guarded(run: Callable[[], int]) -> int:
    """`run`'s exit code; an error it raises said plainly, with its code."""
    try:
        return run()
    except ConfigError as exc:
        note(f"fleet: {exc}")
        return 2
    except FleetError as exc:
        log.info("failed: %s", exc)
        note(f"fleet: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so plainly, keep the details in the log
        log.exception("internal error")
        note(
            f"fleet: internal error: {type(exc).__name__}: {exc} (details in the log: {log_path()})"
        )
        return 1


def tui(args: argparse.Namespace) -> int:
    from fleet.ui.app import run_app  # Textual is loaded only for the TUI

    return run_app(configure(args))


def main() -> int:
    if sys.argv[1:] or not (sys.stdin.isatty() and sys.stdout.isatty()):
        from fleet.cli import main as command_line

        return command_line()
    return guarded(lambda: tui(argparse.Namespace(config=None, verbose=False, command=None)))
