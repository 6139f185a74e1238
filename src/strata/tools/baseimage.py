"""Container base images made here (no registry is reachable): debootstrap a Debian rootfs once, cache it as a
tarball under ~/.cache/strata/<kind>/ keyed by its inputs, import it into podman's store.

Used by the SSH lab (sshd hosts) and by the catalog's image (a plain Python base)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[3]
CACHE_ROOT = Path(os.environ.get("STRATA_CACHE_DIR", Path.home() / ".cache" / "strata"))
CONTAINERS_CONF = PROJECT_ROOT / "lab" / "containers.conf"
SUITE = "bookworm"


class ImageError(RuntimeError):
    """Something the operator has to fix; the message says what."""


def sh(*args: str, check: bool = True, capture: bool = True, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """A command with podman's working configuration (lab/containers.conf, see docs/lab.md)."""
    env = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF), **kwargs.pop("env", {})}
    proc = subprocess.run(args, text=True, capture_output=capture, env=env, check=False, **kwargs)  # noqa: S603
    if check and proc.returncode != 0:
        raise ImageError(f"{' '.join(args)} failed ({proc.returncode}): {(proc.stderr or proc.stdout or '').strip()}")
    return proc


@dataclass(frozen=True)
class Base:
    """One base image: `repository:key`, where key hashes everything that goes into it."""

    kind: str  # cache folder and repository suffix: localhost/strata-<kind>-base
    packages: tuple[str, ...]
    setup: str  # shell run in the chroot after debootstrap
    files: dict[str, tuple[str, int]] = field(default_factory=dict)  # path -> (content, mode)
    changes: tuple[str, ...] = ()  # podman import --change instructions

    @property
    def key(self) -> str:
        parts = [SUITE, ",".join(self.packages), self.setup, repr(sorted(self.files.items())), repr(self.changes)]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]

    @property
    def name(self) -> str:
        return f"localhost/strata-{self.kind}-base:{self.key}"

    def ensure(self, log: Callable[[str], None] = print) -> str:
        """The image: from podman's store, else from the cached rootfs, else built with debootstrap."""
        if sh("podman", "image", "exists", self.name, check=False).returncode == 0:
            return self.name
        cache = CACHE_ROOT / self.kind
        cache.mkdir(parents=True, exist_ok=True)
        tarball = cache / f"rootfs-{self.key}.tar"
        if not tarball.exists():
            log(f"{self.kind}: building the base image ({SUITE}, {' '.join(self.packages)}) with debootstrap, once")
            rootfs = cache / f"rootfs-{self.key}"
            shutil.rmtree(rootfs, ignore_errors=True)
            mirror = os.environ.get("STRATA_DEBIAN_MIRROR", "http://deb.debian.org/debian")
            include = f"--include={','.join(self.packages)}"
            sh("debootstrap", "--variant=minbase", include, SUITE, str(rootfs), mirror)
            sh("chroot", str(rootfs), "/bin/sh", "-c", self.setup)
            for path, (content, mode) in self.files.items():
                target = rootfs / path.lstrip("/")
                target.write_text(content)
                target.chmod(mode)
            partial = tarball.with_suffix(".partial")
            sh("tar", "-C", str(rootfs), "-cf", str(partial), ".")
            partial.rename(tarball)
            shutil.rmtree(rootfs, ignore_errors=True)
        changes = [arg for change in self.changes for arg in ("--change", change)]
        sh("podman", "import", "-q", *changes, str(tarball), self.name)
        return self.name
