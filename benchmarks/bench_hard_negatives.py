"""How much each source of hard negatives gives the loss to learn from, side by side in one run.

Mines a plain directory of real code (default: the first ``--modules`` top-level modules of the
running interpreter's standard library, as ``bench_train_stdlib.py`` copies them) with doppel's
mining, deals the training pairs into the trainer's batches, and scores the same batches with
the base model under each ``hard_negative_mining`` source (none, same_file, neighbours, both):
the mean InfoNCE loss, the share of pairs carrying a gradient (loss >= NEGLIGIBLE_LOSS) and the
mean cosine of a pair's code to its hard negative. No training: this measures what each source
hands the first steps, at the cost of one forward pass per batch (plus, for neighbours, one
embedding pass over the training files), not the quality an adapter reaches.

    .venv/bin/python benchmarks/bench_hard_negatives.py --modules 40 --batches 24
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=40, help="top-level stdlib modules copied (sorted by name)")
    parser.add_argument("--batches", type=int, default=24, help="batches scored per source")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "doppel-hard-negatives")
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from benchmarks.bench_train_stdlib import stdlib_dir, stdlib_subset
    from embedding.encoder import Encoder
    from embedding.training.batching import functions_by_path, hard_negatives_for, make_batches
    from embedding.training.config import TrainConfig
    from embedding.training.loss import SymmetricInfoNCE
    from embedding.training.mining import mine_repository
    from embedding.training.negatives import mine_neighbours

    repo = args.work / "repo"
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    for path in stdlib_subset(args.modules):
        shutil.copy2(path, repo / path.name)
    config = TrainConfig(validation_fraction=0.15, test_fraction=0.25, max_length=args.max_length)
    mined = mine_repository(repo, config, languages=["python"])
    train = mined.pairs_of("python", "train")
    print(f"{stdlib_dir()}: {args.modules} modules, {len(mined.functions)} functions, {len(train)} training pairs")
    encoder = Encoder("default", device="cpu", max_length=args.max_length)
    batches = make_batches(train, args.batch_size, seed=0, group_by_length=True)[: args.batches]
    started = time.perf_counter()
    neighbours = mine_neighbours(lambda texts: encoder.embed_texts(list(texts)), train, mined.functions, k=8)
    neighbour_seconds = time.perf_counter() - started
    by_path = functions_by_path(mined.functions)
    loss_fn = SymmetricInfoNCE(lambda texts: encoder.encode_tensor(texts), temperature=config.temperature)
    rows = []
    for source in ("none", "same_file", "neighbours", "both"):
        losses, carrying, pairs, cosines, found = [], 0, 0, [], 0
        for index, batch in enumerate(batches):
            paths = by_path if source in ("same_file", "both") else {}
            near = neighbours if source in ("neighbours", "both") else None
            hard = hard_negatives_for(batch, paths, seed=index, neighbours=near) if source != "none" else []
            found += len(hard)
            with torch.no_grad():
                q = encoder.encode_tensor([p.query for p in batch])
                c = encoder.encode_tensor([p.code for p in batch])
                h = encoder.encode_tensor(hard) if hard else None
                losses.append(float(loss_fn.compute_loss_from_embeddings(q, c, h)))
                counts = loss_fn.last_counts.tolist()
                pairs += int(counts[0])
                carrying += int(counts[2])
                if h is not None:
                    cosines.append(float((c @ h.T).max(dim=0).values.mean()))
        rows.append(
            (source, float(np.mean(losses)), carrying / max(pairs, 1), found, np.mean(cosines) if cosines else None)
        )
    print(f"neighbour mining: {neighbour_seconds:.0f} s, {neighbours.excluded_copies} copies excluded")
    print("| source | hard negatives | mean loss | carrying a gradient | negative's cosine to its nearest code |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for source, loss, share, found, cosine in rows:
        print(f"| {source} | {found} | {loss:.4f} | {share:.3f} | {'-' if cosine is None else f'{cosine:.3f}'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
