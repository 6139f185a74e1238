"""What the documentation promises, read by the tests: the local commands of docs/getting-started.md."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
GETTING_STARTED = ROOT / "docs" / "getting-started.md"
MARKER = "<!-- local-commands -->"


def local_commands(page: Path = GETTING_STARTED) -> list[str]:
    """The commands of the bash block right after the marker, without their trailing comments."""
    text = page.read_text()
    block = re.search(re.escape(MARKER) + r"\s*```bash\n(.*?)```", text, re.DOTALL)
    if block is None:
        raise ValueError(f"{page}: no ```bash block after {MARKER}")
    commands = [line.split("  #")[0].strip() for line in block.group(1).splitlines()]
    return [c for c in commands if c and not c.startswith("#")]
