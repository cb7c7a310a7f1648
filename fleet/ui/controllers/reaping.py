"""The pools' idle_ttl while the TUI runs: a reaping pass now and then (the same as
`fleet pools reap`), what it did said in a toast; a workspace kept for its work, or that
cannot be checked, is said once a run, not every pass. A pass still running when the next is
due is left to finish: cancelled, it could stop between removing a container and forgetting
it (an engine on a fleet host answers through its helper, slower than the interval)."""

from __future__ import annotations

from textual.worker import Worker

from fleet.ui.controllers.base import Controller


class ReapingController(Controller):
    def start(self) -> None:
        from fleet.core.supervisor.reaping import reap_every  # with the supervisor, not before

        self._said: set[tuple[str, str]] = set()
        self._running: Worker[None] | None = None
        every = reap_every(self.app.config.pools)
        if every is not None:
            self.app.set_interval(every, self._pass)

    def _pass(self) -> None:
        if self._running is not None and not self._running.is_finished:
            return
        self._running = self.run(self._reap, name="reap", group="reap")

    async def _reap(self) -> None:
        for r in await self.sup.reap(lambda line: None):
            key = (r.workspace, r.action)
            if r.action == "waiting" or key in self._said:
                continue
            if r.action in ("kept", "unchecked", "noticed"):
                self._said.add(key)
            if r.action == "reaped":
                self.app.notify(r.line(), severity="information", timeout=10)
            else:
                self.app.notify(r.line(), severity="warning", timeout=10)
            if r.action == "reaped":
                self.app.model.mark_host(r.workspace, "unreachable", "workspace removed (idle_ttl)")
                self.app._refresh_hosts()
