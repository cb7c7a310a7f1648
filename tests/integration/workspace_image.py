"""The image the workspace tests run: Debian's packages (sshd, tmux, git, python3) plus the
tests' recorder agent, built with mmdebstrap and imported into podman; cached under /tmp by
the hash of its recipe, so the suite builds it once per machine, not once per run.

    python -m tests.integration.workspace_image    # build it now (.ci/run does, before pytest)

Also the containers.conf this machine's podman needs (hybrid cgroups, low ulimits: see
TESTING-NOTES): test and CI set-up, pointed at by CONTAINERS_CONF; fleet itself needs none.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.integration.fleetrun import RECORDER

PACKAGES = ("openssh-server", "tmux", "git", "python3")
SUITE = "bookworm"
CACHE = Path("/tmp/fleet-workspace-image")
RECORDER_IN_IMAGE = "/opt/fleet-test/recorder.py"
CONTAINERS_CONF = """\
# Test and CI set-up for podman on this kind of machine (fleet itself needs none of it):
# crun refuses the hybrid cgroup layout, and podman's default ulimits exceed the hard limits.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
"""
TOOLS = ("podman", "runc", "mmdebstrap")


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


def containers_conf() -> Path:
    """CONTAINERS_CONF if set, else the test one, written under /tmp."""
    named = os.environ.get("CONTAINERS_CONF")
    if named:
        return Path(named)
    path = CACHE / "containers.conf"
    CACHE.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != CONTAINERS_CONF:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(CONTAINERS_CONF)
        tmp.replace(path)
    return path


def podman_env() -> dict[str, str]:
    return dict(os.environ, CONTAINERS_CONF=str(containers_conf()))


def _recipe() -> str:
    return "\n".join([SUITE, *PACKAGES, RECORDER_IN_IMAGE, RECORDER])


def tag() -> str:
    return "localhost/fleet-test-workspace:" + hashlib.sha256(_recipe().encode()).hexdigest()[:12]


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """One build at a time on this machine (xdist workers, two runs at once)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _exists(image: str) -> bool:
    run = subprocess.run(["podman", "image", "exists", image], env=podman_env(), check=False)
    return run.returncode == 0


def _rootfs(tarball: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="fleet-ws-") as work:
        recorder = Path(work) / "recorder.py"
        recorder.write_text(RECORDER)
        partial = Path(work) / "rootfs.tar"
        subprocess.run(
            [
                "mmdebstrap", "--quiet", "--variant=apt", "--include=" + ",".join(PACKAGES),
                f"--customize-hook=mkdir -p $1{Path(RECORDER_IN_IMAGE).parent}",
                f"--customize-hook=copy-in {recorder} {Path(RECORDER_IN_IMAGE).parent}",
                SUITE, str(partial),
            ],
            check=True,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        shutil.move(partial, tarball)


def rootfs_tarball() -> Path:
    """The image's root filesystem as a tarball (built if missing), for a podman of another
    user to import (a loopback host's rootless podman: tests/integration/podhost.py)."""
    with _locked():
        tarball = CACHE / f"rootfs-{tag().rpartition(':')[2]}.tar"
        if not tarball.exists():
            _rootfs(tarball)
        tarball.chmod(0o644)
    return tarball


def ensure_image() -> str:
    """The test image's name, built (or imported from the cached rootfs) if podman lacks it."""
    image = tag()
    with _locked():
        if _exists(image):
            return image
        tarball = CACHE / f"rootfs-{image.rpartition(':')[2]}.tar"
        if not tarball.exists():
            _rootfs(tarball)
        subprocess.run(
            ["podman", "import", "--quiet", str(tarball), image],
            env=podman_env(),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return image


if __name__ == "__main__":
    missing = missing_tools()
    if missing:
        sys.exit("the workspace image needs: " + ", ".join(missing))
    print(ensure_image())
