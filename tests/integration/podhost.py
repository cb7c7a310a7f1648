"""A loopback fleet host whose user runs this machine's podman rootless: the engine of a pool
with `host = "podhost"`. Its podman gets the test image imported from the cached rootfs
(workspace_image) and the same containers.conf the laptop-side tests use, in the user's own
~/.config/containers (test set-up: fleet needs none of it).

What rootless podman cannot do on this machine: apply --cpus/--memory (cgroup v1 with
cgroupfs gives a rootless user no controller), so these pools set no limits. Its bridge
networking (slirp4netns) needs /dev/net/tun open to the user: Debian makes it 0666, this
machine's is 0600, so the fixture (and .ci/run) gives it Debian's mode.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.integration import workspace_image
from tests.integration.conftest import skip_or_fail
from tests.integration.hosts import LoopbackFleet, LoopbackHost

HOST = "podhost"
TUN = Path("/dev/net/tun")
ROOTLESS_TOOLS = ("newuidmap", "slirp4netns")


def _tun_for_everyone() -> None:
    if not TUN.exists():
        skip_or_fail("rootless podman needs /dev/net/tun")
    mode = stat.S_IMODE(TUN.stat().st_mode)
    if mode & 0o006 != 0o006:
        os.chmod(TUN, 0o666)  # Debian's own mode for it (udev); see the module docstring


def _missing() -> list[str]:
    return [t for t in (*workspace_image.TOOLS, *ROOTLESS_TOOLS) if shutil.which(t) is None]


def podman(lf: LoopbackFleet, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """podman as the host's user, the way fleet's helper runs it there."""
    return lf.run_as(HOST, ["podman", *args], check=check, timeout=120)


def _prepare(lf: LoopbackFleet, h: LoopbackHost, tarball: Path) -> str:
    conf = h.home / ".config" / "containers"
    lf.run_as(h, ["mkdir", "-p", str(conf)], check=True)
    (conf / "containers.conf").write_text(workspace_image.CONTAINERS_CONF)
    os.chown(conf / "containers.conf", h.uid, h.gid)
    image = workspace_image.tag()
    podman(lf, "import", "--quiet", str(tarball), image, check=True)
    return image


@contextmanager
def pod_host() -> Iterator[tuple[LoopbackFleet, str]]:
    """A one-host loopback fleet whose user's podman holds the test image: (fleet, image)."""
    missing = _missing()
    if missing:
        skip_or_fail("pools on a host need: " + ", ".join(missing))
    tarball = workspace_image.rootfs_tarball()
    _tun_for_everyone()
    with LoopbackFleet(names=[HOST]) as lf:
        image = _prepare(lf, lf.host(HOST), tarball)
        try:
            yield lf, image
        finally:
            podman(lf, "rm", "--all", "--force", "--time=1")
            podman(lf, "volume", "prune", "--force")
