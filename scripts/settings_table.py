"""Print the README's settings table from ``core.settings.Settings`` (run after adding a setting)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.settings import Settings  # noqa: E402


def _default(field) -> str:  # noqa: ANN001
    if field.default_factory is not None:
        value = field.default_factory()
    else:
        value = field.default
    if value is None:
        return "unset"
    if isinstance(value, tuple):
        return "see below" if len(value) > 3 else ", ".join(map(str, value))
    return str(value)


def main() -> None:
    print("| Variable | Default | Meaning |")
    print("| --- | --- | --- |")
    for name, field in Settings.model_fields.items():
        default = _default(field)
        if name == "data_dir":
            default = "$XDG_DATA_HOME/doppel (~/.local/share/doppel)"
        print(f"| `DOPPEL_{name.upper()}` | `{default}` | {field.description or ''} |")


if __name__ == "__main__":
    main()
