"""Synthetic mode: tree-sitter clones of the old release's own functions, on the same base, through the same review.

The real mode measures copies that real edits made; this mode measures the copies of
``embedding/clones.py`` (``renamed``: locals, parameters and the function renamed; ``renamed_edited``:
renamed, then 1–3 statements inserted, deleted or changed) on the same libraries, so that both
stand side by side in one run. The base is the real mode's base (the old release, the same files
and commit message, so the library's embedding cache is reused); the head adds, in new files under
``doppel_synth/<kind>/…``, one clone of each kind for a seeded sample of the base's functions, and
the real mode's genuinely new functions (``doppel_head/…``) as negatives.

A clone keeps its original's docstring or doc comment (``keep_docs``; the encoder embeds it with
the code, so a clone without it is also a copy that dropped its doc). The clone maker parses the
code it is given on its own, so a bare JS/TS method or PHP code is
handed to it inside a class body or after ``<?php`` (``_CONTEXTS``) and taken back without them.
A clone is wrapped as its original is (the first wrapping under which the original's block gives
the original back, see ``layout``) and kept only when it comes back exactly once, under that
wrapping alone and in its assembled file; clones whose qualified names would clash in one file go
to a second file (``doppel_synth/<kind>-2/…``). What is dropped is counted by reason:
``clone_failed`` (the clone maker raised), ``unchanged`` (the clone has the original's body),
``unplaceable`` (no wrapping or no clean extraction).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.realedit.build import (
    BuildOptions,
    fingerprint,
    function_hashes,
    head_hashes,
    negative_truth,
    release_summary,
    repo_message,
    select_library,
)
from benchmarks.realedit.layout import (
    Entry,
    Wrapping,
    build_repo,
    choose_wrapping,
    file_header,
    function_block,
    place_functions,
    render,
    settle,
)
from benchmarks.realedit.manifest import Library
from benchmarks.realedit.match import nested, units
from core.domain import CodeFunction
from embedding.clones import CloneKind, make_clone
from embedding.extract import ExtractOptions, extract_source, parse

if TYPE_CHECKING:
    import tree_sitter

SYNTH_DIR = "doppel_synth"
KINDS = (CloneKind.RENAMED, CloneKind.RENAMED_EDITED)
DROP_REASONS = ("clone_failed", "unchanged", "unplaceable")
MAX_SLOTS = 8  # files per (kind, original file) that clones with clashing names spread over
# Text around a function's code that makes it parse as what it is, for the clone maker, which parses
# the code it gets on its own: a bare JS/TS method (``async get(key) {…}``) is a method only in a
# class body, PHP is code only after ``<?php``, a PHP method only in a class. The first context in
# which the code parses without an error is used; the clone's text comes back without it.
_CONTEXTS: dict[str, tuple[tuple[str, str], ...]] = {
    "javascript": (("", ""), ("(class {\n", "\n})"), ("({\n", "\n})")),
    "typescript": (("", ""), ("(class {\n", "\n})"), ("({\n", "\n})")),
    "tsx": (("", ""), ("(class {\n", "\n})"), ("({\n", "\n})")),
    "php": (("<?php\n", ""), ("<?php\nnew class {\n", "\n};")),
}
SYNTHETIC_VERSION = 1  # bump when the clone placement or sampling changes: cached repositories are rebuilt


@dataclass(frozen=True)
class SyntheticOptions:
    """How many originals a library gives clones of, and how long they must be."""

    originals_cap: int = 60
    min_lines: int = 5  # lines of the original's code (docstring removed)
    seed: int = 0
    keep_docs: bool = True  # a clone keeps its original's docstring or doc comment, as a copy would

    def __post_init__(self) -> None:
        if self.originals_cap < 1:
            raise ValueError(f"SyntheticOptions.originals_cap must be at least 1, got {self.originals_cap}")
        if self.min_lines < 1:
            raise ValueError(f"SyntheticOptions.min_lines must be at least 1, got {self.min_lines}")


@dataclass(frozen=True)
class Clone:
    """One synthetic copy of a base function, as it extracts under its original's wrapping."""

    original: CodeFunction
    kind: CloneKind
    code: str
    wrapping: Wrapping
    header: str
    qualified_name: str
    body_hash: str


@dataclass(frozen=True)
class PlacedClone:
    """A clone as it ended up in the head."""

    clone: Clone
    head_path: str
    head_qualified_name: str
    start_line: int


def pick_originals(functions: Sequence[CodeFunction], cap: int, min_lines: int, seed: int) -> list[CodeFunction]:
    """A seeded sample of at most ``cap`` base functions to clone, in (path, name) order.

    Only units (not nested, (path, qualified name) unique) of at least ``min_lines`` lines of code
    whose body is unique in the base: a clone of a body the base holds twice has two originals.
    """
    bodies = Counter(fn.body_hash for fn in functions)
    pool = [fn for fn in units(functions) if fn.code.count("\n") + 1 >= min_lines and bodies[fn.body_hash] == 1]
    if len(pool) > cap:
        pool = random.Random(seed).sample(pool, cap)
    return sorted(pool, key=lambda fn: (fn.path, fn.qualified_name))


def clone_context(language: str, code: str) -> tuple[str, str]:
    """The (prefix, suffix) in which ``code`` parses cleanly as one function (see ``_CONTEXTS``)."""
    contexts = _CONTEXTS.get(language, (("", ""),))
    for prefix, suffix in contexts:
        if not parse(language, (prefix + code + suffix).encode("utf-8")).root_node.has_error:
            return prefix, suffix
    return contexts[0]


def clone_code(language: str, code: str, kind: CloneKind, seed: int) -> str | None:
    """``make_clone``'s text for ``code`` given in its parse context, or ``None`` when the context
    did not survive the edits."""
    prefix, suffix = clone_context(language, code)
    made = make_clone(language, prefix + code + suffix, kind, seed=seed).code
    if not (made.startswith(prefix) and made.endswith(suffix)) or len(made) < len(prefix) + len(suffix):
        return None
    return made[len(prefix) : len(made) - len(suffix)]


def clone_seed(seed: int, fn: CodeFunction, kind: CloneKind) -> int:
    """A seed per (run seed, original, kind): a clone does not change when the sample around it does."""
    key = f"{seed}|{fn.path}|{fn.qualified_name}|{kind.value}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big")


def _outermost(functions: Sequence[CodeFunction]) -> list[CodeFunction]:
    inner = nested(functions)
    return [fn for fn in functions if (fn.path, fn.qualified_name, fn.start_line) not in inner]


def _python_function(code: bytes) -> tree_sitter.Node | None:
    stack = [parse("python", code).root_node]
    while stack:
        node = stack.pop(0)
        if node.type == "function_definition":
            return node
        stack[:0] = node.children
    return None


def _python_docstring(block: str) -> str | None:
    """The raw docstring (quotes included) of the function in ``block``, or ``None``."""
    data = block.encode("utf-8")
    function = _python_function(data)
    body = function.child_by_field_name("body") if function is not None else None
    first = body.named_children[0] if body is not None and body.named_children else None
    if first is None or first.type != "expression_statement" or first.named_children[0].type != "string":
        return None
    return data[first.start_byte : first.end_byte].decode("utf-8")


def with_doc(original: CodeFunction, block: str, code: str) -> str:
    """``code`` (a clone of ``original.code``) with the original's docstring or doc comment put back,
    as the copy of a documented function would have it: the encoder embeds a function's docstring
    with its code, so a clone without it is also a copy that dropped its doc. The doc is put back
    after cloning, so that neither renaming nor an edit touches it. ``block`` is the original as
    ``layout.function_block`` gives it (Python's docstring inside, others' doc comment above)."""
    if original.language != "python":
        if block != original.code and block.endswith("\n" + original.code):
            return block[: -len(original.code)] + code
        return code
    docstring = _python_docstring(block)
    data = code.encode("utf-8")
    function = _python_function(data)
    body = function.child_by_field_name("body") if function is not None else None
    if docstring is None or function is None or body is None or not body.named_children:
        return code
    first = body.named_children[0]
    if first.start_point[0] == function.start_point[0]:  # a body on the line of its ``def``
        return code
    indent = b" " * first.start_point[1]
    insert = docstring.encode("utf-8") + b"\n" + indent
    return (data[: first.start_byte] + insert + data[first.start_byte :]).decode("utf-8")


def make_clones(
    original: CodeFunction, source: bytes, options: ExtractOptions, seed: int, *, keep_docs: bool = True
) -> tuple[list[Clone], Counter[str]]:
    """The ``renamed`` and ``renamed_edited`` clones of ``original`` (a function of ``source``) that
    extract cleanly under the original's wrapping, and the count of those dropped, by reason."""
    dropped: Counter[str] = Counter()
    header = file_header(original.language, source)
    block = function_block(original, source)
    wrapping = choose_wrapping(original, block, header, options)
    if wrapping is None:
        dropped["unplaceable"] += len(KINDS)
        return [], dropped
    clones: list[Clone] = []
    for kind in KINDS:
        try:
            code = clone_code(original.language, original.code, kind, clone_seed(seed, original, kind))
        except Exception:  # noqa: BLE001 - a grammar corner case of the clone maker drops this clone only
            code = None
        if code is None:
            dropped["clone_failed"] += 1
            continue
        if keep_docs:
            code = with_doc(original, block, code)
        text = header + render(original.language, wrapping, [code]) + "\n"
        found = _outermost(extract_source(original.path, text.encode("utf-8"), options).functions)
        if len(found) != 1:
            dropped["unplaceable"] += 1
        elif found[0].body_hash == original.body_hash:
            dropped["unchanged"] += 1
        else:
            clones.append(Clone(original, kind, code, wrapping, header, found[0].qualified_name, found[0].body_hash))
    return clones, dropped


def clone_path(kind: CloneKind, path: str, slot: int) -> str:
    folder = kind.value if slot == 0 else f"{kind.value}-{slot + 1}"
    return f"{SYNTH_DIR}/{folder}/{path}"


def place_clones(
    clones: Sequence[Clone], options: ExtractOptions
) -> tuple[dict[str, str], list[PlacedClone], list[Clone]]:
    """Head files (path → text) holding ``clones``, where each landed, and those that did not come back.

    The clones of one kind and original file share a file; a clone whose qualified name is already
    taken there goes to the next slot's file, so that names never clash.
    """
    slots: dict[str, list[Clone]] = defaultdict(list)
    taken: dict[str, set[str]] = defaultdict(set)
    dropped: list[Clone] = []
    for clone in sorted(clones, key=lambda c: (c.kind.value, c.original.path, c.original.start_line)):
        target = next(
            (p for s in range(MAX_SLOTS) if clone.qualified_name not in taken[p := clone_path(clone.kind, clone.original.path, s)]),
            None,
        )  # fmt: skip
        if target is None:
            dropped.append(clone)
            continue
        taken[target].add(clone.qualified_name)
        slots[target].append(clone)
    files: dict[str, str] = {}
    placed: list[PlacedClone] = []
    for target in sorted(slots):
        group = slots[target]
        entries = [Entry(c.qualified_name, c.body_hash, c.wrapping, c.code) for c in group]
        text, good, bad = settle(target, group[0].original.language, group[0].header, entries, options)
        if text is not None:
            files[target] = text
        placed += [PlacedClone(group[i], target, hit.qualified_name, hit.start_line) for i, hit in good]
        dropped += [group[i] for i in bad]
    return files, placed, dropped


def clone_truth(placed: Sequence[PlacedClone]) -> list[dict[str, Any]]:
    """Each placed clone → its original, kind and language (the truth's ``clones``)."""
    return [
        {"head": {"path": spot.head_path, "qualified_name": spot.head_qualified_name},
         "base": {"path": spot.clone.original.path, "qualified_name": spot.clone.original.qualified_name},
         "kind": spot.clone.kind.value, "language": spot.clone.original.language, "head_line": spot.start_line}
        for spot in placed
    ]  # fmt: skip


def synthesize(
    originals: Sequence[CodeFunction],
    sources: Mapping[str, bytes],
    options: ExtractOptions,
    seed: int,
    *,
    keep_docs: bool = True,
) -> tuple[dict[str, str], list[PlacedClone], dict[str, int]]:
    """Clones of ``originals`` (functions of ``sources``, the old release's files) placed in head
    files, and the clones dropped on the way, by reason."""
    clones: list[Clone] = []
    dropped: Counter[str] = Counter()
    for original in originals:
        made, lost = make_clones(original, sources[original.path], options, seed, keep_docs=keep_docs)
        clones += made
        dropped.update(lost)
    files, placed, unplaced = place_clones(clones, options)
    dropped["unplaceable"] += len(unplaced)
    return files, placed, {reason: dropped[reason] for reason in DROP_REASONS}


def clone_maker_version() -> str:
    """A hash of the clone maker's source: other clones, other repositories."""
    import embedding.clones

    return hashlib.sha256(Path(embedding.clones.__file__).read_bytes()).hexdigest()[:12]


def build_synthetic(
    lib: Library,
    cache: Path,
    options: BuildOptions,
    synthetic: SyntheticOptions,
    extract: ExtractOptions,
    *,
    rebuild: bool = False,
) -> tuple[Path, dict[str, Any]]:
    """The library's synthetic repository (the real mode's base; a head of clones and negatives) and its truth.

    It lives beside the real one (``cache/repos/<library>/synthetic``) and is reviewed under its own
    repository name, so neither mode's cached repository or index is disturbed by the other.
    """
    home = cache / "repos" / lib.name / "synthetic"
    repo, truth_file = home / "repo", home / "truth.json"
    stamp = json.dumps(
        [SYNTHETIC_VERSION, fingerprint(lib, options, extract), asdict(synthetic), clone_maker_version()]
    )
    stamp = hashlib.sha256(stamp.encode()).hexdigest()[:16]
    if not rebuild and truth_file.exists() and (repo / ".git").exists():
        truth = json.loads(truth_file.read_text(encoding="utf-8"))
        if truth.get("fingerprint") == stamp:
            return repo, truth

    selection = select_library(lib, cache, options, extract)
    originals = pick_originals(selection.base_functions(), synthetic.originals_cap, synthetic.min_lines, synthetic.seed)
    clone_files, placed, dropped = synthesize(
        originals, selection.old_files, extract, synthetic.seed, keep_docs=synthetic.keep_docs
    )
    negative_files, negatives_placed, negatives_dropped = place_functions(
        selection.negatives, selection.new_files, extract
    )
    head = {**negative_files, **clone_files}
    base_sha, head_sha = build_repo(
        repo, selection.base, head, repo_message(lib), head_message=f"synthetic clones of {lib.name} {lib.old}"
    )
    truth_clones = clone_truth(placed)
    truth = {
        **release_summary(lib, selection),
        "mode": "synthetic",
        "fingerprint": stamp,
        "base_commit": base_sha,
        "head_commit": head_sha,
        "originals": len(originals),
        "kinds": dict(sorted(Counter(c["kind"] for c in truth_clones).items())),
        "dropped_clones": dropped,
        "dropped_unplaceable": len(negatives_dropped),
        "clones": truth_clones,
        "negatives": negative_truth(negatives_placed, selection.negatives),
        "base_hashes": function_hashes({p: selection.old_by_path[p] for p in selection.base_paths}),
        "head_hashes": head_hashes(head, extract),
    }
    truth_file.write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return repo, truth
