"""The image's health check: `python3 -m catalog.healthcheck` exits 0 when /healthz answers 200 on the port the
service binds (CATALOG_BIND), 1 otherwise. No curl or wget needed in the image."""

from __future__ import annotations

import sys
import urllib.request

from catalog.settings import ServerSettings


def main() -> int:
    port = ServerSettings().bind.rsplit(":", 1)[-1]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:  # nosec B310
            return 0 if response.status == 200 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
