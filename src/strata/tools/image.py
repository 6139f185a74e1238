"""strata-image: the catalog's container image, built with podman on this machine (`make image`).

No registry is reachable here: the base is a Debian bookworm rootfs made with debootstrap (cached), and the
build context carries every wheel, so that `podman build --network none` downloads nothing. Elsewhere the same
app/Containerfile builds from a public base: `podman build --build-arg BASE_IMAGE=python:3.11-slim-bookworm`.

    strata-image build [--tag TAG]   build localhost/strata-catalog:<version> (prints the image id)
    strata-image base                make (or find) the local Python base image only
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path

from strata.tools.baseimage import PROJECT_ROOT, Base, ImageError, sh

APP = PROJECT_ROOT / "app"
REPOSITORY = "localhost/strata-catalog"
SETUP = """set -e
apt-get clean
rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /usr/share/locale/* /var/cache/debconf/*-old
"""
# Python 3.11 of bookworm, the same minor version as python:3.11-slim-bookworm and the wheels built here.
BASE = Base(kind="python", packages=("python3",), setup=SETUP)


def version() -> str:
    return str(tomllib.loads((APP / "pyproject.toml").read_text())["project"]["version"])


def wheels(dest: Path) -> None:
    """The service's wheel, its pinned dependencies' wheels (from pip's cache when it has them), and pip's.
    The service is built from a copy of its sources (setuptools leaves build/ and *.egg-info beside them)."""
    pip = [sys.executable, "-m", "pip"]
    constraints = str(PROJECT_ROOT / "requirements/constraints.txt")
    source = dest.parent / "source"
    shutil.copytree(APP, source, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))
    sh(*pip, "wheel", "-q", "--wheel-dir", str(dest), "-c", constraints, str(source))
    shutil.rmtree(source)
    pip_version = sh(*pip, "--version").stdout.split()[1]
    sh(*pip, "download", "-q", "--no-deps", "--only-binary=:all:", "--dest", str(dest), f"pip=={pip_version}")


def build(tag: str | None = None, log: Callable[[str], None] = print) -> str:
    base = BASE.ensure(log)
    tag = tag or f"{REPOSITORY}:{version()}"
    with tempfile.TemporaryDirectory(prefix="strata-image-") as context:
        wheels(Path(context) / "wheels")
        shutil.copy(APP / "Containerfile", Path(context) / "Containerfile")
        sh(
            "podman", "build", "--quiet", "--format", "docker", "--network", "none",
            "--build-arg", f"BASE_IMAGE={base}", "--build-arg", f"VERSION={version()}",
            "--tag", tag, context,
        )  # fmt: skip
    image_id = sh("podman", "image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()
    return f"{tag} {image_id[:12]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="strata-image", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("command", choices=["build", "base"])
    parser.add_argument("--tag", help=f"image tag (default {REPOSITORY}:<app version>)")
    args = parser.parse_args(argv)
    try:
        print(build(args.tag) if args.command == "build" else BASE.ensure())
    except ImageError as exc:
        print(f"strata-image: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
