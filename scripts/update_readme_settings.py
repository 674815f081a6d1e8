"""Rewrite the settings table in README.md from ``core.settings.Settings``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    table = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "settings_table.py")], check=True, capture_output=True, text=True,
        cwd=ROOT,
    ).stdout.strip()
    readme = ROOT / "README.md"
    text = readme.read_text()
    start = text.index("| Variable | Default | Meaning |")
    end = text.index("\n\n", start)
    readme.write_text(text[:start] + table + text[end:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
