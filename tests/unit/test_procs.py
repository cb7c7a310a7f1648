"""The host helper's /proc readers (fleet.core.remote.hostside.procs): the helper stops a
session's escaped processes with them, and the demo, the tests and the bench find and measure
processes with them. Linux only."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from fleet.core.remote.hostside import procs

pytestmark = pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs /proc")


def test_this_process_as_proc_shows_it() -> None:
    me = os.getpid()
    assert me in procs.pids()
    assert procs.parent(me) == os.getppid()
    assert procs.owner(me) == os.getuid()
    assert procs.alive(me)
    assert procs.status(me)["VmRSS"].endswith("kB")
    fields = procs.stat(me)
    assert fields is not None and int(fields[3]) == os.getsid(0)
    assert me in procs.ancestors() and os.getppid() in procs.ancestors()


def test_a_child_and_its_child_are_descendants_and_gone_when_reaped() -> None:
    with subprocess.Popen(
        ["sh", "-c", "sleep 30 & wait"], stdout=subprocess.DEVNULL, start_new_session=True
    ) as child:
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                below = procs.descendants(os.getpid())
                grandchildren = [pid for pid in below if procs.parent(pid) == child.pid]
                # forked but not yet exec'd still reads as the shell
                if grandchildren and procs.cmdline(grandchildren[0]) == ["sleep", "30"]:
                    break
                time.sleep(0.01)
            assert child.pid in below and grandchildren
            assert below.index(child.pid) < below.index(grandchildren[0])
            assert procs.cmdline(grandchildren[0]) == ["sleep", "30"]
            assert [p.pid for p in procs.own_processes() if p.sid == child.pid]
        finally:
            os.killpg(child.pid, 9)
    assert not procs.alive(child.pid)
    assert procs.stat(child.pid) is None and procs.cmdline(child.pid) == []
    assert procs.status(child.pid) == {} and procs.parent(child.pid) is None
