"""Every `fleet` command is declared once, on its handler, in the module that implements it.

    commands = Commands()

    def _session(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("session")

    @commands.supervised("screen", "print the agent's current screen as plain text", _session)
    async def screen(sup: Supervisor, args: argparse.Namespace) -> int:
        ...

A declaration is the command's name, its one-line help (also its description), the function
that adds its arguments, and the handler. How the handler is run is the kind of command:

- supervised: `async handler(sup, args)`, inside `fleet.core.wiring.wired` (the store, the
  hooks and the supervisor, opened for the command and closed after it);
- configured: `handler(config, args)`: the config loaded, nothing opened;
- standalone: `handler(args)`: it loads what it needs itself (`fleet demo` has its own
  config, `fleet doctor` reports a config that does not load instead of stopping at it).

`fleet.cli` builds the parser from these declarations and dispatches to them: nothing else
lists the commands.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from fleet.core.config import Config
from fleet.core.supervisor import Supervisor
from fleet.core.wiring import wired
from fleet.launch import configure

log = logging.getLogger("fleet.cli")

Arguments = Callable[[argparse.ArgumentParser], None]
Words = Callable[[argparse.Namespace, list[str], list[str]], None]
"""Takes the free words argparse left over and those after `--`; raises WordsError."""
SupervisedHandler = Callable[[Supervisor, argparse.Namespace], Awaitable[int]]
ConfiguredHandler = Callable[[Config, argparse.Namespace], int]
StandaloneHandler = Callable[[argparse.Namespace], int]


class WordsError(Exception):
    """Free words a command cannot take: a usage error, shown with the usage."""


def no_arguments(parser: argparse.ArgumentParser) -> None:
    """For a command that takes none."""


def session_argument(parser: argparse.ArgumentParser) -> None:
    """For a command that takes one session (HOST/NAME or an id prefix) and nothing else."""
    parser.add_argument("session")


@dataclass(frozen=True, kw_only=True)
class Command:
    name: str
    help: str
    arguments: Arguments
    epilog: str = ""
    words: Words | None = None  # None: free words are a usage error

    def add_to(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        parser = commands.add_parser(
            self.name, help=self.help, description=self.help, epilog=self.epilog or None
        )
        self.arguments(parser)

    def run(self, args: argparse.Namespace) -> int:
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class Supervised(Command):
    handler: SupervisedHandler

    def run(self, args: argparse.Namespace) -> int:
        return asyncio.run(self._run(configure(args), args))

    async def _run(self, config: Config, args: argparse.Namespace) -> int:
        async with wired(config) as sup:
            return await self.handler(sup, args)


@dataclass(frozen=True, kw_only=True)
class Configured(Command):
    handler: ConfiguredHandler

    def run(self, args: argparse.Namespace) -> int:
        return self.handler(configure(args), args)


@dataclass(frozen=True, kw_only=True)
class Standalone(Command):
    handler: StandaloneHandler

    def run(self, args: argparse.Namespace) -> int:
        return self.handler(args)


class Commands:
    """The commands one module declares, in the order it declares them."""

    def __init__(self) -> None:
        self._declared: list[Command] = []

    def __iter__(self) -> Iterator[Command]:
        return iter(self._declared)

    def supervised(
        self,
        name: str,
        help: str,
        arguments: Arguments = no_arguments,
        *,
        epilog: str = "",
        words: Words | None = None,
    ) -> Callable[[SupervisedHandler], SupervisedHandler]:
        def declare(handler: SupervisedHandler) -> SupervisedHandler:
            self._add(
                Supervised(
                    name=name,
                    help=help,
                    arguments=arguments,
                    epilog=epilog,
                    words=words,
                    handler=handler,
                )
            )
            return handler

        return declare

    def configured(
        self, name: str, help: str, arguments: Arguments = no_arguments, *, epilog: str = ""
    ) -> Callable[[ConfiguredHandler], ConfiguredHandler]:
        def declare(handler: ConfiguredHandler) -> ConfiguredHandler:
            self._add(
                Configured(
                    name=name, help=help, arguments=arguments, epilog=epilog, handler=handler
                )
            )
            return handler

        return declare

    def standalone(
        self, name: str, help: str, arguments: Arguments = no_arguments, *, epilog: str = ""
    ) -> Callable[[StandaloneHandler], StandaloneHandler]:
        def declare(handler: StandaloneHandler) -> StandaloneHandler:
            self._add(
                Standalone(
                    name=name, help=help, arguments=arguments, epilog=epilog, handler=handler
                )
            )
            return handler

        return declare

    def _add(self, command: Command) -> None:
        self._declared.append(command)


def collect(*groups: Commands) -> dict[str, Command]:
    """Every command of these groups by name, in their order; a name declared twice (in two
    modules) is a bug, refused here rather than one silently hiding the other."""
    found: dict[str, Command] = {}
    for group in groups:
        for command in group:
            if command.name in found:
                raise ValueError(f"fleet {command.name} is declared twice")
            found[command.name] = command
    return found
