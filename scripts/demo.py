"""``make demo``: index a copy of doppel itself, apply the example change from ``examples/``, review it.

Everything happens under ``.demo/`` (a throwaway git repository and data directory), with the
default embedded setup: all-MiniLM-L6-v2 from its package, Qdrant Edge, nothing fetched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
REPO = DEMO / "repo"
VENV_DOPPEL = ".venv/bin/doppel"


def sh(*cmd: str, cwd: Path = ROOT, env: dict[str, str] | None = None, show: bool = True) -> None:
    if show:
        print(f"\n$ {' '.join(cmd)}", flush=True)
    subprocess.run(cmd, cwd=cwd, env=env, check=True)


def git(*args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=doppel demo", "-c", "user.email=demo@doppel.invalid", *args],
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def copy_project() -> None:
    """Copy doppel's own source files (tracked or new, not ignored) into a fresh repository."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file() and not rel.startswith(".demo/"):
            dst = REPO / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "doppel as it is")


def step(text: str) -> None:
    print(f"\n{text}", flush=True)


def main() -> int:
    # A fresh repository every time; the data directory stays, so a second demo takes its
    # vectors from the embedding cache instead of embedding every function again.
    started = time.monotonic()
    shutil.rmtree(REPO, ignore_errors=True)
    REPO.mkdir(parents=True)
    data = DEMO / "data"
    env = {**os.environ, "DOPPEL_DATA_DIR": str(data)}
    doppel = [sys.executable, "-m", "cli.main"]

    step("1/4 copying doppel's own code into a fresh git repository under .demo/repo")
    copy_project()
    cached = (
        "the embedding cache from the last demo makes it quick"
        if data.exists()
        else "the first run embeds every function: a few minutes on a laptop CPU"
    )
    step(f"2/4 indexing it: all-MiniLM-L6-v2 from its PyPI package, embedded Qdrant Edge under .demo/data ({cached})")
    sh(*doppel, "index", str(REPO), env=env)
    step(
        "3/4 applying the example change (examples/apply_demo_change.py): a near-copy of an existing function and a new one"
    )
    sh(sys.executable, str(ROOT / "examples" / "apply_demo_change.py"), str(REPO))
    git("add", "-A")
    git("commit", "-q", "-m", "example change")
    subprocess.run(["git", "--no-pager", "show", "--stat", "--format=%s", "HEAD"], cwd=REPO, check=True)
    step("4/4 reviewing the change against the index of its base")
    sh(*doppel, "review", str(REPO), "--base", "HEAD~1", env=env)
    print(
        f"\ndone in {time.monotonic() - started:.0f}s. What a pull request would get on GitHub:\n"
        f"  DOPPEL_DATA_DIR={data.relative_to(ROOT)} {VENV_DOPPEL} review {REPO.relative_to(ROOT)} --base HEAD~1 --format markdown",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
