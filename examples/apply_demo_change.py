"""Write the demo change into a checkout of doppel: one near-copy, one genuinely new function.

``make demo`` indexes a copy of the doppel repository, runs this script on it and reviews the
result. The change adds ``core/records.py`` with

* ``index_record``: a copy of ``IndexedFunction.from_function`` (core/domain.py) with its
  variables renamed and one statement added. doppel must flag it as a duplicate of that method;
* ``weekday_of``: Zeller's congruence, like nothing in the repository. It must not be flagged.

    python examples/apply_demo_change.py /tmp/doppel-demo            # write the file
    python examples/apply_demo_change.py /tmp/doppel-demo --commit   # and commit it
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

DEMO_PATH = "core/records.py"
COPIED = ("core/domain.py", "IndexedFunction.from_function")  # what the near-copy copies
COPY_NAME = "index_record"
NEW_NAME = "weekday_of"

DEMO_SOURCE = '''\
"""Helpers for turning extracted functions into index records (demo change)."""

from __future__ import annotations

from core.domain import CodeFunction, IndexedFunction, RepoRef


def index_record(owner: RepoRef, func: CodeFunction, *, sha: str, space: str) -> IndexedFunction:
    if not sha:
        raise ValueError("index_record needs the commit the function was read at")
    return IndexedFunction(
        repo=owner.slug,
        language=func.language,
        path=func.path,
        qualified_name=func.qualified_name,
        start_line=func.start_line,
        end_line=func.end_line,
        commit=sha,
        body_hash=func.body_hash,
        adapter_version=space,
        code=func.code,
    )


def weekday_of(year: int, month: int, day: int) -> str:
    """The day of the week of a Gregorian date, by Zeller's congruence."""
    if month < 3:
        month += 12
        year -= 1
    century, year_of_century = divmod(year, 100)
    h = (day + (13 * (month + 1)) // 5 + year_of_century + year_of_century // 4 + century // 4 + 5 * century) % 7
    names = ("Saturday", "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
    return names[h]
'''


def apply(repo_dir: Path) -> Path:
    """Write the demo file into ``repo_dir``; refuse when the copied function is not there."""
    copied_file = repo_dir / COPIED[0]
    method = COPIED[1].rsplit(".", 1)[-1]
    if not copied_file.is_file() or f"def {method}(" not in copied_file.read_text(encoding="utf-8"):
        raise SystemExit(f"{repo_dir} has no {COPIED[1]} in {COPIED[0]}: is it a doppel checkout?")
    target = repo_dir / DEMO_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(DEMO_SOURCE, encoding="utf-8")
    return target


def commit(repo_dir: Path, message: str = "demo: add core/records.py") -> None:
    """Commit the demo file with a throw-away identity (hooks and signing off)."""
    git = ["git", "-C", str(repo_dir), "-c", "user.name=doppel demo", "-c", "user.email=demo@example.invalid",
           "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null"]  # fmt: skip
    subprocess.run([*git, "add", "--", DEMO_PATH], check=True)
    subprocess.run([*git, "commit", "-q", "--no-verify", "-m", message], check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write doppel's demo change into a checkout.")
    parser.add_argument("repo", type=Path, help="the checkout to change (a copy: this writes into it)")
    parser.add_argument("--commit", action="store_true", help="also commit the change")
    args = parser.parse_args(argv)
    written = apply(args.repo)
    if args.commit:
        commit(args.repo)
    print(f"wrote {written.relative_to(args.repo)}: {COPY_NAME} is a near-copy of {COPIED[1]}, "
          f"{NEW_NAME} is new", file=sys.stderr)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
