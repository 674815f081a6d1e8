"""``doppel train`` under torchrun: two processes (gloo on the CPU) train one adapter together.

Each process takes half of the batches and the loss gathers embeddings across them; only the
first process evaluates, registers and reports. The multi-GPU path is the same code with NCCL and
one GPU per process (``join_from_environment``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.domain import RepoRef

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_two_process_training_registers_one_adapter(tmp_path: Path) -> None:
    from tests.tiny_models import build_tiny_roberta
    from tests.unit.test_registry import PY_FILES

    repo = tmp_path / "repo"
    for rel, text in PY_FILES.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    env = {
        **os.environ,
        "DOPPEL_BASE_MODEL": str(build_tiny_roberta(tmp_path / "tiny")),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(ROOT),
    }
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "cli.main", "train", str(repo),
        "--data-dir", str(tmp_path / "data"), "--device", "cpu", "--max-length", "32", "--repo", "tiny",
        "--min-pairs", "1", "--max-steps", "2", "--batch-size", "2", "--margin", "0", "--no-hard-negatives",
        "--report", str(tmp_path / "r"), "--format", "json",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    (adapter,) = report["adapters"]
    assert adapter["train"]["steps"] == 2
    assert adapter["metrics"]["test"]["adapter"]["python"]
    versions = list((tmp_path / "data" / "adapters" / RepoRef("tiny").collection_name / "python").glob("v*"))
    assert [v.name for v in versions] == [adapter["version"]]  # one process wrote the registry
    assert json.loads(done.stdout)["adapters"][0]["version"] == adapter["version"]  # one report printed, not two
