"""UI tests. Shared helpers for the grid tests: sessions and a tiny app around the grid."""

from __future__ import annotations

import itertools
import time
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.strip import Strip

from fleet.core import events
from fleet.core.models import DiffStat, Session, Status
from fleet.ui.model import FleetModel
from fleet.ui.widgets.grid import SessionGrid


def make_session(
    host: str,
    n: int | str,
    status: Status = Status.WORKING,
    *,
    name: str | None = None,
    agent: str = "claude",
    task: str = "",
    since: float | None = None,
    diff: DiffStat | None = None,
    exit_code: int | None = None,
) -> Session:
    return Session(
        id=f"s{n}",
        name=name if name is not None else f"task-{n}",
        host=host,
        agent=agent,
        status=status,
        branch=f"fleet/task-{n}",
        worktree=f"/w/{n}",
        repo="/r",
        task=task,
        status_since=time.time() - 200 if since is None else since,
        diffstat=diff or DiffStat(),
        exit_code=exit_code,
    )


_seq = itertools.count(1)


def status_event(
    host: str, sid: str, status: Status, at: float | None = None, exit_code: int | None = None
) -> events.StatusChanged:
    """A status change as the host journals it (now, unless `at` says when)."""
    when = time.time() if at is None else at
    return events.StatusChanged(
        host=host, seq=next(_seq), at=when, session=sid, status=status, exit_code=exit_code
    )


def diffstat_event(host: str, sid: str, diffstat: DiffStat) -> events.DiffStatChanged:
    return events.DiffStatChanged(
        host=host, seq=next(_seq), at=time.time(), session=sid, diffstat=diffstat
    )


def output_event(host: str, sid: str, offset: int, data: bytes) -> events.OutputArrived:
    return events.OutputArrived(host=host, session=sid, offset=offset, data=data)


class CountingGrid(SessionGrid):
    """The grid, counting the lines it draws and its flushes (the real grid counts nothing)."""

    def __init__(self, model: FleetModel, *, id: str | None = None) -> None:
        super().__init__(model, id=id)
        self.render_count = 0
        self.flush_count = 0

    def render_line(self, y: int) -> Strip:
        self.render_count += 1
        return super().render_line(y)

    def _flush(self) -> None:
        self.flush_count += 1
        super()._flush()


class GridApp(App[None]):
    """Just the grid, over a model the test fills."""

    GRID: ClassVar[type[SessionGrid]] = SessionGrid

    def __init__(self, model: FleetModel) -> None:
        super().__init__()
        self.model = model
        self.selected: list[object] = []

    def compose(self) -> ComposeResult:
        yield self.GRID(self.model, id="grid")

    def on_session_grid_selected(self, message: SessionGrid.Selected) -> None:
        self.selected.append(message.card.key if message.card else None)

    @property
    def grid(self) -> SessionGrid:
        return self.query_one(SessionGrid)


class CountingGridApp(GridApp):
    """The grid app with a :class:`CountingGrid`."""

    GRID = CountingGrid

    @property
    def counting_grid(self) -> CountingGrid:
        return self.query_one(CountingGrid)
