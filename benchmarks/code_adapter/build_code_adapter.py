"""Build the code adapter shipped with doppel (``embedding/data/code_adapter``), reproducibly.

LoRACode's recipe on public code: a LoRA adapter on the default base (all-MiniLM-L6-v2) trained
on documentation→code pairs (a function's doc text → its code) and code→code pairs (a synthetic
clone → its original), mined from the packages of ``packages.json`` fetched by name from PyPI,
npm and Debian (``benchmarks/realedit/fetch.py`` downloads and unpacks them). Packages tagged
``heldout`` are never trained on: the evaluation ranks their doc queries against every function
of their language in the held-out projects (text→code) and their synthetic clones likewise
(code→code), for the bare base and the adapter, with a paired bootstrap 95% interval per
language. Packages tagged ``validation`` are neither trained on nor reported: recipes and
settings are chosen on them (``evaluate --projects validation``). No language runtime's standard
library and no library of the copy-recall benchmark (``benchmarks/realedit/libraries.json``) is
among the packages; ``fetch`` checks the latter.

Steps (each reuses what the previous one left under ``--work``)::

    python benchmarks/code_adapter/build_code_adapter.py fetch      # download and unpack
    python benchmarks/code_adapter/build_code_adapter.py mine       # functions + pairs of each package
    python benchmarks/code_adapter/build_code_adapter.py probe      # seconds per training step
    python benchmarks/code_adapter/build_code_adapter.py train      # the adapter (CPU or CUDA), its manifest
    python benchmarks/code_adapter/build_code_adapter.py scale      # optional: --delta-scale F of an adapter's change
    python benchmarks/code_adapter/build_code_adapter.py evaluate   # base vs adapter, held-out projects
    python benchmarks/code_adapter/build_code_adapter.py write      # verdict fit, copy into embedding/data

``all`` runs them in order. Nothing under ``--work`` is committed; ``manifest.json`` (what was
trained and evaluated on, with counts) and the adapter are. ``train`` writes its manifest beside
the candidate adapter under ``--work``, and ``write`` ships the two together, so a candidate that
is not shipped leaves the committed manifest as it is.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.realedit import fetch as registry  # noqa: E402
from benchmarks.realedit.manifest import load_manifest  # noqa: E402
from core.domain import CodeFunction  # noqa: E402
from embedding.evaluation import TASKS  # noqa: E402

HERE = Path(__file__).resolve().parent
PACKAGES = HERE / "packages.json"
MANIFEST = HERE / "manifest.json"
CANDIDATE_MANIFEST = "manifest.json"  # in --work: the trained candidate's, until write ships it
SHIPPED = ROOT / "embedding" / "data" / "code_adapter"
ADAPTER_NAME = "code"
ADAPTER_CONFIG_FILES = ("adapter_config.json", "training_config.json")  # beside the weights and doppel.json
SPLITS = ("train", "heldout", "validation")  # validation: neither trained on nor reported; chosen on
MAX_FILES_PER_PACKAGE = 500  # a seeded subset of larger packages, so none dominates its language
EVAL_LANGUAGES = ("python", "java", "go", "javascript", "ruby", "php")
log = logging.getLogger("code_adapter")


@dataclass(frozen=True)
class Package:
    """One release fetched by name; ``languages`` are the doppel languages read from it.

    Duck-types ``benchmarks.realedit.manifest.Library`` for ``fetch.download`` (name, registry,
    registry_name, root). ``pypi-sdist`` is PyPI's source distribution (wheels of C extensions
    carry no C source)."""

    name: str
    registry: str
    version: str
    languages: tuple[str, ...]
    split: str
    package: str = ""
    root: str = ""

    def __post_init__(self) -> None:
        from embedding.languages import LANGUAGES

        object.__setattr__(self, "languages", tuple(self.languages))
        if self.registry not in ("pypi", "pypi-sdist", "npm", "debian"):
            raise ValueError(f"package {self.name!r}: unknown registry {self.registry!r}")
        if self.split not in SPLITS:
            raise ValueError(f"package {self.name!r}: split must be one of {SPLITS}, got {self.split!r}")
        unknown = [lang for lang in self.languages if lang not in LANGUAGES]
        if unknown:
            raise ValueError(f"package {self.name!r}: unknown languages {unknown}")

    @property
    def registry_name(self) -> str:
        return self.package or self.name

    @property
    def key(self) -> str:
        """A path-safe identity: the prefix of every path mined from the package."""
        return f"{self.registry}-{self.name}".replace("@", "").replace("/", "+")


def package_key_of(path: str) -> str:
    """The package a mined path belongs to: every path mined from a package starts with its key."""
    return path.split("/", 1)[0]


def load_packages(path: Path = PACKAGES) -> list[Package]:
    """The packages of ``packages.json``, refusing any library of the copy-recall benchmark."""
    packages = [Package(**entry) for entry in json.loads(path.read_text(encoding="utf-8"))["packages"]]
    benchmark = {lib.registry_name.lower() for lib in load_manifest()} | {lib.name.lower() for lib in load_manifest()}
    clash = sorted(p.name for p in packages if p.registry_name.lower() in benchmark or p.name.lower() in benchmark)
    if clash:
        raise SystemExit(f"{path}: {clash} are copy-recall benchmark libraries; they may not be trained on")
    keys = Counter(p.key for p in packages)
    if max(keys.values()) > 1:
        raise SystemExit(f"{path}: repeated packages {sorted(k for k, n in keys.items() if n > 1)}")
    return packages


# --- fetch -------------------------------------------------------------------------------------
def _download_sdist(pkg: Package, cache: Path) -> Path:
    """PyPI's source distribution, downloaded once (``pip download --no-binary :all:``)."""
    dest = cache / "downloads" / "pypi-sdist" / f"{pkg.name}-{pkg.version}"
    done = dest / ".done"
    if done.exists():
        return dest / done.read_text(encoding="utf-8").strip()
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check"]
    registry._run([*pip, "--no-binary", ":all:", f"{pkg.name}=={pkg.version}", "-d", str(dest)], dest, pkg.key)
    found = sorted(dest.glob("*.tar.gz")) or sorted(dest.glob("*.zip"))
    if not found:
        raise registry.FetchError(f"{pkg.key}: pip left no sdist in {dest}")
    done.write_text(found[0].name + "\n", encoding="utf-8")
    return found[0]


def package_tree(pkg: Package, cache: Path) -> Path:
    """The folder holding the package's source (unpacked once under ``cache/src``)."""
    archive = (
        _download_sdist(pkg, cache) if pkg.registry == "pypi-sdist" else registry.download(pkg, pkg.version, cache)
    )  # type: ignore[arg-type]
    dest = cache / "src" / pkg.key / pkg.version
    if not (dest / ".done").exists():
        shutil.rmtree(dest, ignore_errors=True)
        (dest / "tree").mkdir(parents=True)
        registry._unpack(archive, dest / "tree")
        (dest / ".done").write_text("ok\n", encoding="utf-8")
    root = pkg.root or ("package" if pkg.registry == "npm" else "*" if pkg.registry == "pypi-sdist" else "")
    return registry.source_root(dest / "tree", root)


def package_files(pkg: Package, cache: Path) -> tuple[dict[str, bytes], int]:
    """Source files of the package's languages (tests, docs, vendored code left out, as the
    copy-recall benchmark does), at most ``MAX_FILES_PER_PACKAGE`` (a seeded subset); and how
    many there were before the cap."""
    from embedding.extract import ExtractOptions, skip_reason
    from embedding.languages import language_for_path
    from embedding.training.pairs import stable_int

    root = package_tree(pkg, cache)
    options = ExtractOptions()
    found: list[tuple[str, Path]] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        rel = path.relative_to(root).as_posix()
        language = language_for_path(rel)
        if language is None or language.name not in pkg.languages:
            continue
        if not registry.is_source_path(rel) or skip_reason(rel, options) is not None:
            continue
        if path.stat().st_size > registry.MAX_FILE_BYTES:
            continue
        found.append((rel, path))
    total = len(found)
    if total > MAX_FILES_PER_PACKAGE:
        found = sorted(found, key=lambda item: stable_int(item[0], 0))[:MAX_FILES_PER_PACKAGE]
    return {rel: path.read_bytes() for rel, path in sorted(found)}, total


def cmd_fetch(args: argparse.Namespace) -> int:
    failed = []
    for pkg in load_packages():
        started = time.perf_counter()
        try:
            files, total = package_files(pkg, args.cache)
        except (registry.FetchError, OSError) as exc:
            failed.append(pkg.key)
            print(f"FAILED {pkg.key}: {exc}", flush=True)
            continue
        print(f"{pkg.key:48s} {len(files):4d}/{total:4d} files  {time.perf_counter() - started:5.1f}s", flush=True)
    print(f"{len(failed)} failed: {', '.join(failed)}" if failed else "all fetched")
    return 0


# --- mine --------------------------------------------------------------------------------------
def mine_package(pkg: Package, cache: Path, config: Any) -> dict[str, Any]:
    """The package's functions and filtered pairs (paths prefixed with the package key)."""
    from embedding.extract import ExtractOptions, extract_source
    from embedding.training.pairs import filter_pairs, synthetic_pairs, text_pairs

    files, total = package_files(pkg, cache)
    options = ExtractOptions()
    functions: list[CodeFunction] = []
    for rel, data in files.items():
        functions.extend(extract_source(f"{pkg.key}/{rel}", data, options).functions)
    pairs = text_pairs(functions, identifiers=False, min_query_chars=config.min_query_chars)
    pairs += synthetic_pairs(functions, per_function=1, seed=config.seed)
    pairs = filter_pairs(
        pairs,
        min_code_chars=config.min_code_chars,
        max_code_chars=config.max_code_chars,
        min_query_chars=config.min_query_chars,
    )
    split = "train" if pkg.split == "train" else "test"
    pairs = [replace(p, split=split) for p in pairs]
    return {"files": len(files), "files_found": total, "functions": functions, "pairs": pairs}


def _mined_path(work: Path, pkg: Package) -> Path:
    return work / "mined" / f"{pkg.key}.json"


def load_mined(work: Path, pkg: Package) -> tuple[list[CodeFunction], list[Any], dict[str, Any]]:
    from embedding.training.pairs import TrainingPair

    data = json.loads(_mined_path(work, pkg).read_text(encoding="utf-8"))
    functions = [CodeFunction(**fn) for fn in data["functions"]]
    pairs = [TrainingPair(**p) for p in data["pairs"]]
    return functions, pairs, data["counts"]


def cmd_mine(args: argparse.Namespace) -> int:
    from embedding.training.config import TrainConfig

    config = TrainConfig()
    (args.work / "mined").mkdir(parents=True, exist_ok=True)
    for pkg in load_packages():
        out = _mined_path(args.work, pkg)
        if out.exists() and not args.rebuild:
            continue
        if args.fetched_only and not (args.cache / "src" / pkg.key / pkg.version / ".done").exists():
            continue
        started = time.perf_counter()
        try:
            mined = mine_package(pkg, args.cache, config)
        except (registry.FetchError, OSError) as exc:
            print(f"SKIPPED {pkg.key}: {exc}", flush=True)
            continue
        counts = {
            "files": mined["files"],
            "files_found": mined["files_found"],
            "functions": len(mined["functions"]),
            "text2code": sum(p.kind == "text2code" for p in mined["pairs"]),
            "code2code": sum(p.kind == "code2code" for p in mined["pairs"]),
            "by_language": dict(Counter(fn.language for fn in mined["functions"])),
        }
        payload = {
            "counts": counts,
            "functions": [asdict(fn) for fn in mined["functions"]],
            "pairs": [asdict(p) for p in mined["pairs"]],
        }
        out.write_text(json.dumps(payload), encoding="utf-8")
        print(f"{pkg.key:48s} {json.dumps(counts)}  {time.perf_counter() - started:.1f}s", flush=True)
    return 0


def gather(
    work: Path, split: str, *, only: frozenset[str] | None = None, exclude: frozenset[str] = frozenset()
) -> tuple[list[CodeFunction], list[Any], list[tuple[Package, dict[str, Any]]]]:
    """Functions and pairs of every mined package of ``split`` (or of the keys in ``only``, less
    those in ``exclude``), and each package's counts."""
    functions: list[CodeFunction] = []
    pairs: list[Any] = []
    counted: list[tuple[Package, dict[str, Any]]] = []
    for pkg in load_packages():
        if pkg.split != split or pkg.key in exclude or (only is not None and pkg.key not in only):
            continue
        if not _mined_path(work, pkg).exists():
            continue
        fns, prs, counts = load_mined(work, pkg)
        functions += fns
        pairs += prs
        counted.append((pkg, counts))
    return functions, pairs, counted


def training_pairs(pairs: list[Any], per_language: int, seed: int = 0, code_ratio: float = 1.0) -> list[Any]:
    """The training set: per language at most ``per_language`` doc→code pairs and ``code_ratio``
    times as many code→code ones (a seeded subset, each package contributing at most half of its
    language's share), so that every language is represented as evenly as the data allows.

    The base model already finds renamed copies (their loss is near zero and the drop margin
    leaves most out), so a ratio below 1 spends the steps where the gradient is."""
    if code_ratio < 0:
        raise ValueError(f"code_ratio must be at least 0, got {code_ratio}")
    from embedding.training.pairs import cap_pairs

    out: list[Any] = []
    by_lang: dict[str, list[Any]] = defaultdict(list)
    for p in pairs:
        by_lang[p.language].append(p)
    for language in sorted(by_lang):
        for kind in ("text2code", "code2code"):
            chosen = [p for p in by_lang[language] if p.kind == kind]
            per_package: dict[str, list[Any]] = defaultdict(list)
            for p in chosen:
                per_package[package_key_of(p.path)].append(p)
            limited = [
                q for group in per_package.values() for q in cap_pairs(group, max(per_language // 2, 1), seed=seed)
            ]
            kept = cap_pairs(limited, per_language, seed=seed)
            if kind == "code2code":  # code_ratio clone pairs per doc pair; a quarter share where docs are few
                docs = sum(1 for q in out if q.language == language and q.kind == "text2code")
                floor = min(len(kept), int(per_language * code_ratio) // 4)
                kept = cap_pairs(kept, max(int(docs * code_ratio), floor), seed=seed)
            out += kept
    return out


def write_manifest(
    work: Path,
    per_language: int,
    code_ratio: float = 1.0,
    path: Path = MANIFEST,
    *,
    languages: frozenset[str] = frozenset(),
    validation: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The data manifest of a training at this cap and ratio (of ``languages`` only, when given,
    and without the ``validation`` packages), written to ``path`` (the tracked one by default;
    ``train`` writes its candidate's into the work folder, and ``write`` ships it)."""
    rows = []
    pairs = gather(work, "train", exclude=validation)[1]
    trained = training_pairs(_of_languages(pairs, languages), per_language, code_ratio=code_ratio)
    used = Counter((package_key_of(p.path), p.kind) for p in trained)
    for split in SPLITS:
        for pkg, counts in gather(work, split)[2]:
            if languages and not languages & set(pkg.languages):
                continue
            rows.append(
                {
                    "package": pkg.registry_name,
                    "name": pkg.name,
                    "version": pkg.version,
                    "registry": pkg.registry,
                    "languages": list(pkg.languages),
                    "split": pkg.split,
                    **counts,
                    "trained_text2code": used.get((pkg.key, "text2code"), 0) if split == "train" else 0,
                    "trained_code2code": used.get((pkg.key, "code2code"), 0) if split == "train" else 0,
                    **({"validation": True} if pkg.key in validation else {}),
                }
            )
    by_language: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for p in trained:
        by_language[p.language][p.kind] += 1
    manifest = {
        "about": "Data of the shipped code adapter (embedding/data/code_adapter), made by "
        "benchmarks/code_adapter/build_code_adapter.py from packages.json. Counts: files read (after the "
        f"per-package cap of {MAX_FILES_PER_PACKAGE}), functions extracted, pairs mined, pairs trained on.",
        "pairs_per_language_cap": per_language,
        "code2code_per_text2code": code_ratio,
        "trained_pairs_by_language": {k: dict(v) for k, v in sorted(by_language.items())},
        **({"languages": sorted(languages)} if languages else {}),
        **({"validation_packages": sorted(validation)} if validation else {}),
        "packages": rows,
    }
    path.write_text(json.dumps(manifest, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return manifest


def _of_languages(items: list[Any], languages: frozenset[str]) -> list[Any]:
    """The pairs or functions of ``languages`` (all of them when it is empty)."""
    return [item for item in items if not languages or item.language in languages]


# --- train -------------------------------------------------------------------------------------
def _recipe_setting(text: str) -> tuple[str, Any]:
    """``--set NAME=VALUE``: a ``TrainConfig`` field and its value (JSON: 0.5, false, null, "both")."""
    from embedding.training.config import TrainConfig

    name, sep, value = text.partition("=")
    if not sep or name not in TrainConfig.__dataclass_fields__:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=VALUE with NAME a TrainConfig field")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value  # a bare word: a string value


def _config(args: argparse.Namespace, **overrides: Any) -> Any:
    from embedding.training.config import TrainConfig

    options = {
        "epochs": args.epochs,
        "learning_rate": args.learning_rate,
        "gradient_checkpointing": args.gradient_checkpointing,
        "hard_negative_pool": args.mining_pool,
    }
    recipe = {"max_length": args.train_max_length, "device": args.device, "bf16": args.device != "cpu", "seed": 0}
    recipe |= {k: v for k, v in options.items() if v is not None}
    return TrainConfig(**(recipe | dict(args.set or ()) | overrides))  # --set may name any field, bf16 too


def _names(text: str | None) -> frozenset[str]:
    """The names of a comma-separated option (``--validate-on``, ``--train-languages``, ``--serve``)."""
    return frozenset(name for name in (text or "").split(",") if name)


def _validation_keys(args: argparse.Namespace) -> frozenset[str]:
    """``--validate-on``: train-split package keys kept out of training and evaluated instead of
    the held-out projects, to choose a recipe without looking at the projects it is reported on."""
    keys = _names(args.validate_on)
    known = {p.key for p in load_packages() if p.split == "train"}
    if keys - known:
        raise SystemExit(f"--validate-on: {sorted(keys - known)} are not train-split package keys of {PACKAGES.name}")
    return keys


def _train_languages(args: argparse.Namespace) -> frozenset[str]:
    """``--train-languages``: the languages a language adapter is trained on (empty: every one)."""
    from embedding.languages import LANGUAGES

    chosen = _names(args.train_languages)
    if chosen - set(LANGUAGES):
        raise SystemExit(f"--train-languages: {sorted(chosen - set(LANGUAGES))} are not doppel languages")
    return chosen


def _encoder(args: argparse.Namespace, max_length: int) -> Any:
    from embedding.cache import EmbeddingCache
    from embedding.encoder import Encoder

    dtype = "float32"  # on CUDA too: the LoRA weights train in float32 under bfloat16 autocast (TrainConfig.bf16)
    cache = EmbeddingCache(args.work / "embeddings.sqlite")  # saved adapters' and the base's vectors, reused
    return Encoder("default", max_length=max_length, batch_size=64, device=args.device, dtype=dtype, cache=cache)


def cmd_probe(args: argparse.Namespace) -> int:
    import torch

    from embedding.training.config import LoraSpec
    from embedding.training.trainer import train_adapter

    out = args.work / "adapter"
    if args.init_from and args.init_from.resolve() == out.resolve():
        raise SystemExit(f"--init-from {args.init_from} is the output folder (it is replaced): copy it elsewhere first")
    torch.set_num_threads(args.threads)
    functions, pairs, _ = gather(args.work, "train", exclude=_validation_keys(args))
    chosen = training_pairs(pairs, args.pairs_per_language, code_ratio=args.code_ratio)
    config = _config(args, max_steps=args.probe_steps)
    result = train_adapter(
        _encoder(args, args.train_max_length), ADAPTER_NAME, chosen, config, LoraSpec(), functions=functions
    )
    per_step = result.seconds / max(result.steps, 1)
    print(f"probe: {result.steps} steps in {result.seconds:.1f}s = {per_step:.2f} s/step (batch {config.batch_size}); "
          f"{len(chosen)} pairs x 2 epochs = {2 * len(chosen) // config.batch_size} steps "
          f"= {2 * len(chosen) // config.batch_size * per_step / 60:.0f} min", flush=True)  # fmt: skip
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from embedding.training.config import LoraSpec
    from embedding.training.trainer import save_trained_adapter, train_adapter

    out = args.work / "adapter"
    if args.init_from and args.init_from.resolve() == out.resolve():
        raise SystemExit(f"--init-from {args.init_from} is the output folder (it is replaced): copy it elsewhere first")
    torch.set_num_threads(args.threads)
    validation = _validation_keys(args)
    languages = _train_languages(args)
    functions, pairs, _ = gather(args.work, "train", exclude=validation)
    functions = _of_languages(functions, languages)
    chosen = training_pairs(_of_languages(pairs, languages), args.pairs_per_language, code_ratio=args.code_ratio)
    candidate_manifest = args.work / CANDIDATE_MANIFEST
    candidate_manifest.unlink(missing_ok=True)  # the last candidate's, no longer the adapter's in work
    if not validation or languages:  # a general recipe trial (--validate-on) is never shipped: no manifest
        write_manifest(
            args.work,
            args.pairs_per_language,
            args.code_ratio,
            path=candidate_manifest,
            languages=languages,
            validation=validation,
        )
    print(f"training on {len(chosen)} pairs: {dict(Counter((p.language, p.kind) for p in chosen))}", flush=True)
    config = _config(args, max_steps=args.max_steps)
    lora = LoraSpec()
    encoder = _encoder(args, args.train_max_length)
    start, earlier = None, None
    if args.init_from:  # continue an earlier run (e.g. the shipped adapter) rather than start from the base
        start = f"{ADAPTER_NAME}-start"
        encoder.load_adapter(start, args.init_from)
        earlier = json.loads((args.init_from / "doppel.json").read_text(encoding="utf-8")).get("train")
    result = train_adapter(
        encoder, ADAPTER_NAME, chosen, config, lora, functions=functions, progress=args.progress, start_from=start
    )
    print(f"trained: {json.dumps(result.to_dict())}", flush=True)
    metadata = {
        "language": ADAPTER_NAME,
        "languages": sorted({p.language for p in chosen}),
        "train": result.to_dict(),
        "data": dict(Counter(f"{p.language}/{p.kind}" for p in chosen)),
        "selection": {"pairs_per_language": args.pairs_per_language, "code_ratio": args.code_ratio},
        "validation_packages": sorted(validation),
        "made_by": "benchmarks/code_adapter/build_code_adapter.py (packages.json, manifest.json)",
    }
    if earlier is not None:
        metadata["continued"] = {"from": str(args.init_from), "earlier_train": earlier}
    shutil.rmtree(out, ignore_errors=True)
    save_trained_adapter(encoder, ADAPTER_NAME, out, lora, config, metadata)
    (args.work / "losses.json").write_text(json.dumps(result.losses), encoding="utf-8")
    print(f"adapter written to {out}")
    return 0


# --- scale -------------------------------------------------------------------------------------
def scale_adapter_delta(source: Path, out: Path, factor: float) -> dict[str, Any]:
    """Copy the adapter in ``source`` to ``out`` with its learnt change to the base multiplied by
    ``factor``: each LoRA B matrix scaled, so the update B·A is (a LoRA layer adds x·Aᵀ·Bᵀ·α/r).
    Below 1 it moves the adapter towards the base, above 1 further along its training direction.
    Returns the new metadata (``delta_scale`` recorded, compounded with any earlier one)."""
    from safetensors.torch import load_file, save_file

    from embedding.adapters import adapter_weights, read_metadata

    if not factor > 0:
        raise SystemExit(f"--delta-scale must be positive, got {factor}")
    if out.resolve() == source.resolve():
        raise SystemExit(f"the scaled adapter would replace its source {source}: choose another --work")
    tensors = load_file(str(adapter_weights(source)))
    scaled = [name for name in tensors if ".lora_B." in name]
    if not scaled:
        raise SystemExit(f"{source}: no LoRA B matrices to scale")
    for name in scaled:
        tensors[name] = (tensors[name].float() * factor).to(tensors[name].dtype).contiguous()
    metadata = read_metadata(source)
    metadata.pop("version", None)  # new weights, a new version (from the weight file's hash)
    metadata["delta_scale"] = round(float(metadata.get("delta_scale", 1.0)) * factor, 6)
    metadata["scaled_from"] = str(source)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    save_file(tensors, str(out / "adapter_model.safetensors"))
    for name in ADAPTER_CONFIG_FILES:
        shutil.copy2(source / name, out / name)
    (out / "doppel.json").write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return metadata


def cmd_scale(args: argparse.Namespace) -> int:
    """``scale --adapter SRC --delta-scale F``: WORK/adapter becomes SRC with its change scaled by F,
    with SRC's training manifest beside it (the shipped one for the shipped adapter), so that
    ``evaluate`` and ``write`` treat it as a candidate."""
    if args.delta_scale is None:
        raise SystemExit("scale needs --delta-scale FACTOR")
    source = args.adapter or SHIPPED
    manifest = MANIFEST if source.resolve() == SHIPPED.resolve() else source.parent / CANDIDATE_MANIFEST
    if not manifest.exists():
        raise SystemExit(f"{manifest} is missing: scale an adapter made by train (WORK/adapter) or the shipped one")
    metadata = scale_adapter_delta(source, args.work / "adapter", args.delta_scale)
    shutil.copy2(manifest, args.work / CANDIDATE_MANIFEST)
    print(f"{args.work / 'adapter'}: {source} with its change scaled by {args.delta_scale} "
          f"(delta_scale {metadata['delta_scale']}); manifest from {manifest}")  # fmt: skip
    return 0


# --- evaluate ----------------------------------------------------------------------------------
def _reciprocal_ranks(embed: Any, queries: list[Any], pool: list[CodeFunction], vectors: Any) -> Any:
    import numpy as np

    from embedding.evaluation import Pool, ranks

    index = Pool.of(pool)
    chosen = [(p, rel) for p in queries for rel in [index.relevant(p)] if rel is not None]
    if not chosen:
        return np.empty(0), []
    q = embed([p.query for p, _ in chosen])
    return 1.0 / ranks(q, vectors, [rel for _, rel in chosen]), [p for p, _ in chosen]


def _by_project(queries: list[Any], scores: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Base and adapter MRR per project (package key, the first part of each query's path): the
    bootstrap resamples queries, so a gain made in one project shows here rather than in its interval."""
    projects: dict[str, list[int]] = defaultdict(list)
    for i, pair in enumerate(queries):
        projects[package_key_of(pair.path)].append(i)
    cells = {}
    for key, rows in sorted(projects.items()):
        base, adapter = float(scores["base"][rows].mean()), float(scores["adapter"][rows].mean())
        cells[key] = {"queries": len(rows), "base_mrr": round(base, 4), "adapter_mrr": round(adapter, 4),
                      "relative": round(adapter / base - 1.0, 4) if base else None}  # fmt: skip
    return cells


def _pool_sample(pool: list[CodeFunction], cap: int) -> list[CodeFunction]:
    """At most ``cap`` functions of a pool (a seeded subset, in a stable order)."""
    from embedding.training.pairs import function_key, stable_int

    return pool if len(pool) <= cap else sorted(pool, key=lambda fn: stable_int(function_key(fn), 3))[:cap]


def evaluate_split(encoder: Any, adapter_path: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Per language: text→code and code→code reciprocal ranks of base and adapter on the held-out
    packages (pool: held-out functions of the language, at most ``--max-pool``), with a paired
    bootstrap; and the verdict's labelled pairs (each clone against its function and its nearest
    non-copies, in the adapter's space) for ``write``."""
    import torch

    from embedding.evaluation import evaluate_language, paired_bootstrap
    from embedding.lexical import normalize
    from embedding.training.pairs import cap_pairs

    torch.set_num_threads(args.threads)
    models: tuple[tuple[str, str | None], ...] = (("base", None),)
    if not args.base_only:
        encoder.load_adapter(ADAPTER_NAME, adapter_path)
        models = (("base", None), ("adapter", ADAPTER_NAME))
    validation = _validation_keys(args)
    if validation:
        functions, pairs, counted = gather(work, "train", only=validation)
    else:
        functions, pairs, counted = gather(work, args.projects)
    languages = [lang for lang in args.languages.split(",") if lang] or sorted({fn.language for fn in functions})
    results: dict[str, Any] = {}
    labelled: list[dict[str, Any]] = []
    for language in languages:
        everything = [fn for fn in functions if fn.language == language]
        if not everything:
            continue
        pool = _pool_sample(everything, args.max_pool)
        row: dict[str, Any] = {
            "pool": len(pool),
            "functions": len(everything),
            "projects": sorted({pkg.registry_name for pkg, c in counted if c["by_language"].get(language)}),
        }
        vectors = {m: encoder.embed_texts([fn.code for fn in pool], adapter=a) for m, a in models}
        in_pool = {f"{fn.path}::{fn.qualified_name}" for fn in pool}
        for task, sources, cap in (
            ("text2code", ("docstring",), args.max_queries),
            ("code2code", ("synthetic",), args.max_queries // 2),
        ):
            queries = [
                p
                for p in pairs
                if p.language == language and p.kind == task and p.source in sources and p.function_key in in_pool
            ]
            queries = cap_pairs(queries, cap, seed=1)
            scores = {}
            for model, adapter in models:
                embed = lambda texts, a=adapter: encoder.embed_texts(list(texts), adapter=a)  # noqa: E731
                scores[model], ranked = _reciprocal_ranks(embed, queries, pool, vectors[model])
            if len(scores["base"]) == 0 or args.base_only:
                continue
            boot = paired_bootstrap(scores["base"], scores["adapter"], seed=0)
            row[task] = boot.to_dict() | {"by_project": _by_project(ranked, scores)}
            print(f"{language:11s} {task:9s} {boot.describe()}", flush=True)
            if task == "text2code":
                for key, cell in row[task]["by_project"].items():
                    print(f"{'':21s}{key}: {cell['queries']} queries, MRR {cell['base_mrr']:.4f} → "
                          f"{cell['adapter_mrr']:.4f} ({cell['relative']:+.1%})", flush=True)  # fmt: skip
            if task == "code2code":
                memo: dict[str, Any] = {}

                def normal(code: str, lang: str = language, memo: dict[str, Any] = memo) -> Any:
                    if code not in memo:
                        memo[code] = normalize(lang, code)
                    return memo[code]

                embed = lambda texts: encoder.embed_texts(list(texts), adapter=ADAPTER_NAME)  # noqa: E731
                ev = evaluate_language(
                    embed, language, queries, pool, pool_vectors=vectors["adapter"], normalized=normal
                )
                labelled += [asdict(item) for item in ev.labelled]
        results[language] = row
    (work / "labelled.json").write_text(json.dumps(labelled), encoding="utf-8")
    return results


def cmd_evaluate(args: argparse.Namespace) -> int:
    encoder = _encoder(args, args.eval_max_length)
    adapter = args.adapter or args.work / "adapter"
    results = evaluate_split(encoder, adapter, args.work, args)
    document = {
        "adapter": str(adapter), "max_length": args.eval_max_length, "max_queries": args.max_queries,
        "max_pool": args.max_pool, "languages": results,
        "projects": "validation" if _validation_keys(args) else args.projects,  # what evaluate_split ranked on
    }  # fmt: skip
    (args.work / "evaluation.json").write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return 0


# --- write -------------------------------------------------------------------------------------
def fit_code_verdict(work: Path) -> tuple[Any, dict[str, Any]]:
    """The verdict for the adapter's vectors, fitted as ``RetrainService`` fits a repository
    adapter's: synthetic copies of the held-out packages' functions and each copy's nearest
    non-copy neighbours (``evaluate`` saved them), fitted on half of the copies and judged on the
    other half."""
    from embedding.training.pairs import split_for_path
    from embedding.verdict import Signals
    from embedding.verdict_fit import FitOptions, LabelledPair, fit_verdict, judge

    rows = json.loads((work / "labelled.json").read_text(encoding="utf-8"))
    pairs = [LabelledPair(**{**row, "signals": Signals(**row["signals"])}) for row in rows]
    unit = lambda p: p.unit or f"{p.group}:{p.signals}"  # noqa: E731
    fit = [p for p in pairs if split_for_path(unit(p), validation=0.5, test=0.0) == "train"]
    check = [p for p in pairs if split_for_path(unit(p), validation=0.5, test=0.0) != "train"]
    verdict = fit_verdict(
        fit,
        FitOptions(),
        source=f"adapter:{ADAPTER_NAME}",
        fitted={"on": "held-out packages' synthetic copies and their nearest non-copy neighbours (half the units)"},
    )
    return verdict, judge(verdict, check).to_dict()


def read_fitted_verdict(path: Path) -> Any:
    """A verdict ``benchmarks/fit_verdict.py --source adapter:code --out PATH`` fitted on the real-edit
    benchmark's calibration libraries, reviewed with this adapter on."""
    from embedding.verdict import Verdict

    verdict = Verdict.from_dict(json.loads(path.read_text(encoding="utf-8")))
    if verdict.source != f"adapter:{ADAPTER_NAME}":  # the shipped adapters' (language ones included) reviews
        raise SystemExit(f"{path}: a verdict for {verdict.source!r}, not adapter:{ADAPTER_NAME} (fit_verdict --source)")
    return verdict


def _candidate_manifest(work: Path, metadata: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """The manifest ``train`` wrote beside the adapter in ``work`` (its path and content), checked
    to be that training's."""
    path = work / CANDIDATE_MANIFEST
    if not path.exists():
        raise SystemExit(f"{path} is missing: the adapter in {work} was not made by train without --validate-on")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    selection = metadata.get("selection", {})
    made = (manifest.get("pairs_per_language_cap"), manifest.get("code2code_per_text2code"))
    if made != (selection.get("pairs_per_language"), selection.get("code_ratio")):
        raise SystemExit(f"{path} describes a training at cap and ratio {made}, not this adapter's {selection}")
    if manifest.get("validation_packages", []) != metadata.get("validation_packages", []):
        raise SystemExit(f"{path} leaves out other validation packages than this adapter's training")
    return path, manifest


def _destination(args: argparse.Namespace, metadata: dict[str, Any], manifest: dict[str, Any]) -> tuple[Path, Path]:
    """Where ``write`` ships the adapter and its manifest: the general code adapter's place, or
    with ``--language-adapter NAME`` ``languages/NAME`` beside it (an adapter trained with
    ``--train-languages``, serving those languages) and ``manifest-NAME.json``."""
    from embedding.adapters import SHIPPED_LANGUAGES_DIR, shipped_language_adapter_name

    trained = sorted(metadata.get("languages", []))
    if not args.language_adapter:
        if metadata.get("validation_packages"):
            raise SystemExit("an adapter trained with --validate-on ships only as a language adapter")
        return SHIPPED, MANIFEST
    shipped_language_adapter_name(args.language_adapter)  # a name peft accepts
    if manifest.get("languages") != trained:
        raise SystemExit(
            f"--language-adapter: the adapter in {args.work} was not trained with --train-languages "
            f"(its manifest names {manifest.get('languages')!r}, its pairs {trained})"
        )
    serves = sorted(_names(args.serve) or trained)
    if not serves or set(serves) - set(trained):
        raise SystemExit(f"--serve {args.serve!r}: it may name only languages the adapter was trained on, {trained}")
    metadata["serves"] = serves  # what the encoder routes to it
    return SHIPPED / SHIPPED_LANGUAGES_DIR / args.language_adapter, HERE / f"manifest-{args.language_adapter}.json"


def cmd_write(args: argparse.Namespace) -> int:
    adapter = args.work / "adapter"
    evaluation = args.work / "evaluation.json"
    document = json.loads(evaluation.read_text(encoding="utf-8")) if evaluation.exists() else None
    if document is not None and document.get("projects", "heldout") != "heldout":
        raise SystemExit(f"{evaluation} ranks on validation packages: run evaluate without --validate-on first")
    metadata = json.loads((adapter / "doppel.json").read_text(encoding="utf-8"))
    manifest_path, manifest = _candidate_manifest(args.work, metadata)
    shipped, shipped_manifest = _destination(args, metadata, manifest)
    synthetic, check = fit_code_verdict(args.work)
    verdict = read_fitted_verdict(args.verdict) if args.verdict else synthetic
    metadata["verdict"] = verdict.to_dict()
    metadata["verdict_check"] = check if not args.verdict else {"synthetic_fit_check": check}
    if document is not None:
        metadata["heldout"] = document["languages"]
    shipped.mkdir(parents=True, exist_ok=True)
    shutil.copy2(manifest_path, shipped_manifest)
    for name in ("adapter_model.safetensors", *ADAPTER_CONFIG_FILES):
        shutil.copy2(adapter / name, shipped / name)
    (shipped / "doppel.json").write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if args.verdict and shipped != SHIPPED and (SHIPPED / "doppel.json").is_file():
        # A verdict fitted on reviews made with every shipped adapter belongs to all of them.
        general = json.loads((SHIPPED / "doppel.json").read_text(encoding="utf-8"))
        general["verdict"] = metadata["verdict"]
        (SHIPPED / "doppel.json").write_text(json.dumps(general, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"the general adapter's verdict in {SHIPPED} is the same fit")
    print(f"verdict check on the other half: {json.dumps(check)}")
    print(f"shipped adapter written to {shipped}, its manifest to {shipped_manifest}")
    return 0


# --- repository training on top of the shipped adapter -----------------------------------------
def _repo_data(args: argparse.Namespace, language: str, config: Any) -> tuple[list[CodeFunction], list[Any], str]:
    """Functions and split pairs of the repository to train: a plain directory (``--repo-dir``,
    mined as ``doppel train`` mines) or a mined held-out package (``--repo-package``)."""
    from embedding.training.mining import mine_repository
    from embedding.training.pairs import assign_splits, balance_kinds

    if args.repo_dir:
        mined = mine_repository(args.repo_dir, config, languages=[language])
        return mined.functions, mined.pairs, str(args.repo_dir)
    pkg = next((p for p in load_packages() if p.key == args.repo_package), None)
    if pkg is None or pkg.split != "heldout":
        raise SystemExit(f"--repo-package must name a held-out package key, got {args.repo_package!r}")
    functions, pairs, _ = load_mined(work=args.work, pkg=pkg)
    pairs = assign_splits(pairs, seed=0, validation=config.validation_fraction, test=config.test_fraction)
    return functions, balance_kinds(pairs, config.synthetic_ratio), pkg.registry_name


def cmd_repo(args: argparse.Namespace) -> int:
    """Train a repository adapter on top of the shipped one (as ``doppel train`` does once it is
    shipped) and compare text→code MRR on the repository's held-out files: bare base, shipped
    adapter, repository adapter."""
    import torch

    from embedding.evaluation import paired_bootstrap
    from embedding.training.config import LoraSpec
    from embedding.training.trainer import train_adapter

    torch.set_num_threads(args.threads)
    language = args.repo_language
    config = _config(args, validation_fraction=0.0, test_fraction=0.3, max_steps=args.max_steps)
    functions, pairs, name = _repo_data(args, language, config)
    functions = [fn for fn in functions if fn.language == language]
    train = [p for p in pairs if p.split == "train" and p.language == language]
    test = [p for p in pairs if p.split == "test" and p.language == language and p.source == "docstring"]
    train_functions = functions
    if args.replay:  # the shipped adapter's own kind of data, so the repository's few pairs do not pull it off
        general_functions, general, _ = gather(args.work, "train")
        replay = training_pairs([p for p in general if p.language == language], args.replay, code_ratio=args.code_ratio)
        print(f"replaying {len(replay)} pairs of the train packages: {dict(Counter(p.kind for p in replay))}")
        train = train + replay
        train_functions = functions + [fn for fn in general_functions if fn.language == language]
    encoder = _encoder(args, args.train_max_length)
    encoder.load_adapter(ADAPTER_NAME, args.adapter or SHIPPED)
    result = train_adapter(encoder, language, train, config, LoraSpec(), functions=train_functions)
    started_from = encoder._adapters[language].started_from  # noqa: SLF001 - the report says what it started from
    print(
        f"{name}: trained {result.steps} steps on {len(train)} pairs in {result.seconds:.0f}s, started from {started_from}"
    )
    encoder.model.eval()
    scores = {}
    for model, adapter in (("base", None), ("shipped", ADAPTER_NAME), ("repository", language)):
        embed = lambda texts, a=adapter: encoder.embed_texts(list(texts), adapter=a)  # noqa: E731
        vectors = embed([fn.code for fn in functions])
        scores[model], _ = _reciprocal_ranks(embed, test, functions, vectors)
    out = {"repository": name, "language": language, "pool": len(functions), "train_pairs": len(train),
           "steps": result.steps, "started_from": started_from, "max_length": args.train_max_length,
           "learning_rate": config.learning_rate, "set": dict(args.set or ()), "replay": args.replay}  # fmt: skip
    for model in ("shipped", "repository"):
        boot = paired_bootstrap(scores["base"], scores[model], seed=0)
        out[f"{model}_vs_base"] = boot.to_dict()
        print(f"{name} {language} text2code {model} vs bare base: {boot.describe()}", flush=True)
    boot = paired_bootstrap(scores["shipped"], scores["repository"], seed=0)
    out["repository_vs_shipped"] = boot.to_dict()
    print(f"{name} {language} text2code repository vs shipped: {boot.describe()}", flush=True)
    target = args.work / f"repo-{language}.json"
    target.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


def _pct(value: float | None) -> str:
    return f"{100 * value:+.1f}%" if value is not None else "n/a"


def _resamples(evaluation: dict[str, Any]) -> str:
    """The bootstrap resample counts the evaluation's intervals were drawn with, as the page says them."""
    counts = sorted(
        {row[task]["resamples"] for row in evaluation["languages"].values() for task in TASKS if task in row}
    )
    return " or ".join(f"{n:,}" for n in counts) or "no"


def render_report(evaluation: dict[str, Any], manifest: dict[str, Any], extra: str = "") -> str:
    """The results page: per language, base vs adapter MRR on the held-out projects with the
    paired bootstrap interval, and which packages were trained on and which held out."""
    lines = [
        "# Shipped code adapter: held-out projects",
        "",
        "Made by `benchmarks/code_adapter/build_code_adapter.py` (data: `benchmarks/code_adapter/manifest.json`). "
        "Queries: the held-out packages' doc texts (text→code) and synthetic clones of their functions "
        "(code→code), each ranked against every held-out function of its language (the pool). MRR of the bare "
        f"base (all-MiniLM-L6-v2) and of the shipped adapter, max length {evaluation['max_length']} tokens, at most "
        f"{evaluation['max_queries']} queries per language and task; Δ with a paired bootstrap 95% interval "
        f"(`embedding.evaluation.paired_bootstrap`, {_resamples(evaluation)} resamples).",
        "",
        "| language | held-out projects | pool | task | queries | base MRR | adapter MRR | Δ (relative) | 95% CI of Δ |",
        "|---|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for language, row in sorted(evaluation["languages"].items()):
        for task in TASKS:
            if task not in row:
                continue
            b = row[task]
            lines.append(
                f"| {language} | {', '.join(row['projects'])} | {row['pool']} | {task} | {b['queries']} | "
                f"{b['base_mrr']:.4f} | {b['adapter_mrr']:.4f} | {b['delta']:+.4f} ({_pct(b['relative'])}) | "
                f"[{b['ci_low']:+.4f}, {b['ci_high']:+.4f}] |"
            )
    target = [
        lang
        for lang in EVAL_LANGUAGES
        if (evaluation["languages"].get(lang, {}).get("text2code", {}).get("relative") or 0) >= 0.20
    ]
    lines += [
        "",
        f"Target (issue 11): ≥ +20% relative text→code MRR in at least 4 of {', '.join(EVAL_LANGUAGES)}: "
        f"reached in {len(target)} ({', '.join(target) or 'none'}).",
        "",
        "## Packages",
        "",
        "| split | registry | package | version | languages | files | functions | doc→code pairs | trained pairs |",
        "|---|---|---|---|---|---:|---:|---:|---:|",
    ]
    for row in manifest["packages"]:
        trained = row.get("trained_text2code", 0) + row.get("trained_code2code", 0)
        lines.append(
            f"| {row['split']} | {row['registry']} | {row['package']} | {row['version']} | "
            f"{', '.join(row['languages'])} | {row['files']} | {row['functions']} | {row['text2code']} | {trained} |"
        )
    return "\n".join(lines) + "\n" + (f"\n{extra}\n" if extra else "")


def cmd_report(args: argparse.Namespace) -> int:
    evaluation = json.loads((args.work / "evaluation.json").read_text(encoding="utf-8"))
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    extra = args.notes.read_text(encoding="utf-8") if args.notes else ""
    out = ROOT / "benchmarks" / "results" / "code_adapter.md"
    page = render_report(evaluation, manifest, extra)
    if not (SHIPPED / "adapter_config.json").is_file():
        title, rest = page.split("\n", 1)
        page = (
            f"{title}\n\n**Not shipped**: `embedding/data/code_adapter/` is absent (see the status at the end).\n{rest}"
        )
    out.write_text(page, encoding="utf-8")
    print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "step",
        choices=("fetch", "mine", "manifest", "probe", "train", "scale", "evaluate", "write", "report", "repo", "all"),
        help="what to do",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path.home() / ".cache" / "doppel-code-adapter",
        help="downloads and unpacked packages",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=Path.home() / ".cache" / "doppel-code-adapter" / "work",
        help="mined pairs, the trained adapter, evaluation",
    )
    parser.add_argument("--device", default="cpu", help="'cpu' or 'cuda[:N]'")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument(
        "--pairs-per-language",
        type=int,
        default=1200,
        help="doc→code training pairs per language (and --code-ratio times as many code→code)",
    )
    parser.add_argument(
        "--code-ratio",
        type=float,
        default=0.5,
        help="code→code training pairs per doc→code pair in each language (the base already finds renamed copies)",
    )
    parser.add_argument(
        "--max-steps", type=int, default=None, help="optimiser-step cap (default: TrainConfig's 2 epochs decide)"
    )
    parser.add_argument("--probe-steps", type=int, default=20, help="steps the probe times")
    parser.add_argument("--epochs", type=int, default=None, help="passes over the pairs (default: TrainConfig's)")
    parser.add_argument("--learning-rate", type=float, default=None, help="AdamW peak rate (default: TrainConfig's)")
    parser.add_argument(
        "--gradient-checkpointing",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="recompute activations in the backward pass: less memory, slower (default: TrainConfig's, on)",
    )
    parser.add_argument(
        "--mining-pool",
        type=int,
        default=30_000,
        help="most training-file functions embedded to mine nearest-neighbour negatives (the pairs' own first)",
    )
    parser.add_argument("--train-max-length", type=int, default=128, help="token limit per text in training")
    parser.add_argument(
        "--eval-max-length", type=int, default=256, help="token limit per text in evaluation (doppel's default)"
    )
    parser.add_argument(
        "--max-queries",
        type=int,
        default=300,
        help="text→code queries per language (half as many code→code; seeded subset) in evaluation (seeded subset)",
    )
    parser.add_argument("--base-only", action="store_true", help="evaluate: only embed with the base (fills the cache)")
    parser.add_argument(
        "--max-pool", type=int, default=1000, help="held-out functions per language in a pool (seeded subset)"
    )
    parser.add_argument(
        "--languages", default=",".join(EVAL_LANGUAGES), help="languages evaluated (comma-separated; empty: all)"
    )
    parser.add_argument(
        "--adapter", type=Path, default=None, help="evaluate this adapter directory instead of WORK/adapter"
    )
    parser.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="train: continue from this adapter directory (e.g. embedding/data/code_adapter) instead of the bare base",
    )
    parser.add_argument(
        "--set",
        type=_recipe_setting,
        action="append",
        metavar="NAME=VALUE",
        help="train/repo: any other TrainConfig field, e.g. --set synthetic_ratio=0.5 --set hard_negatives=false",
    )
    parser.add_argument(
        "--validate-on",
        default="",
        metavar="KEYS",
        help="train/probe: leave these train-split package keys (comma-separated) out; evaluate: rank on them "
        "instead of the held-out projects (to choose a recipe on projects the report does not use)",
    )
    parser.add_argument(
        "--projects",
        choices=("heldout", "validation"),
        default="heldout",
        help="evaluate: rank on the held-out packages (the report) or on the validation-split packages "
        "(neither trained on nor reported, to choose a recipe or a --delta-scale on)",
    )
    parser.add_argument(
        "--delta-scale",
        type=float,
        default=None,
        metavar="FACTOR",
        help="scale: multiply the adapter's learnt change to the base (its LoRA B matrices) by FACTOR",
    )
    parser.add_argument(
        "--train-languages",
        default="",
        metavar="LANGS",
        help="train: only these languages' pairs (comma-separated), for a shipped language adapter "
        "(write --language-adapter); empty: every language, the general code adapter",
    )
    parser.add_argument("--rebuild", action="store_true", help="mine packages again even when mined")
    parser.add_argument(
        "--verdict",
        type=Path,
        default=None,
        help="write: ship this verdict (fit_verdict.py --source adapter:code) instead of the one fitted on "
        "the held-out packages' synthetic copies",
    )
    parser.add_argument(
        "--language-adapter",
        default="",
        metavar="NAME",
        help="write: ship the adapter as the language adapter embedding/data/code_adapter/languages/NAME "
        "(trained with --train-languages; it serves those languages in place of the general one)",
    )
    parser.add_argument(
        "--serve",
        default="",
        metavar="LANGS",
        help="write --language-adapter: the languages it serves (comma-separated; default: those it was "
        "trained on), e.g. only those where it beat the general adapter on the validation packages",
    )
    parser.add_argument(
        "--repo-dir", type=Path, default=None, help="repo: a plain directory to train a repository adapter on"
    )
    parser.add_argument(
        "--repo-package", default=None, help="repo: or a held-out package key (e.g. debian-ruby-net-ssh)"
    )
    parser.add_argument("--repo-language", default="python", help="repo: the language trained and evaluated")
    parser.add_argument(
        "--replay",
        type=int,
        default=0,
        help="repo: also train on up to this many doc→code pairs of the language from the train packages "
        "(and --code-ratio times as many code→code)",
    )
    parser.add_argument("--notes", type=Path, default=None, help="report: a Markdown file appended to the results page")
    parser.add_argument(
        "--fetched-only", action="store_true", help="mine only packages already fetched (while fetch runs)"
    )
    parser.add_argument("--progress", action="store_true", help="progress bar while training")
    args = parser.parse_args(argv)  # fmt: skip
    logging.basicConfig(level=logging.WARNING)
    steps = {
        "fetch": cmd_fetch,
        "mine": cmd_mine,
        "probe": cmd_probe,
        "train": cmd_train,
        "scale": cmd_scale,
        "evaluate": cmd_evaluate,
        "write": cmd_write,
        "report": cmd_report,
        "repo": cmd_repo,
    }
    if args.step == "manifest":
        write_manifest(args.work, args.pairs_per_language, args.code_ratio)
        return 0
    if args.step == "all":
        for name in ("fetch", "mine", "train", "evaluate", "write", "report"):
            if steps[name](args):
                return 1
        return 0
    return steps[args.step](args)


if __name__ == "__main__":
    raise SystemExit(main())
