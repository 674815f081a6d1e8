"""Reading a repository for training: its functions at HEAD and modest changes from its history.

A git repository is read through ``GitSource`` at a commit (what is committed, never the work
tree); a plain directory (no ``.git``) is walked on disk and has no history. The pairs themselves
are made by the pure functions of ``pairs.py``.
"""

from __future__ import annotations

import logging
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.domain import CodeFunction
from core.errors import GitError
from embedding.training.config import TrainConfig
from embedding.training.pairs import (
    TrainingPair,
    assign_splits,
    balance_kinds,
    cap_pairs,
    filter_pairs,
    history_pair,
    synthetic_pairs,
    text_pairs,
)

log = logging.getLogger(__name__)


@dataclass
class MinedRepository:
    """What mining found: every function (the evaluation pools) and the split, filtered pairs."""

    root: Path
    commit: str | None
    functions: list[CodeFunction]
    pairs: list[TrainingPair]
    warnings: list[str] = field(default_factory=list)
    # What mining saw: commits scanned, history and synthetic pairs found (before the caps), and
    # why there are no history pairs when there are none.
    statistics: dict[str, object] = field(default_factory=dict)

    def languages(self) -> list[str]:
        return sorted({fn.language for fn in self.functions})

    def functions_of(self, language: str | None) -> list[CodeFunction]:
        return [fn for fn in self.functions if language is None or fn.language == language]

    def pairs_of(self, language: str | None, split: str | None = None) -> list[TrainingPair]:
        return [
            p
            for p in self.pairs
            if (language is None or p.language == language) and (split is None or p.split == split)
        ]


def _extract_options(languages: Sequence[str] | None, options: object | None) -> object:
    from embedding.extract import ExtractOptions

    if options is not None:
        return options
    return ExtractOptions(languages=tuple(languages) if languages else None)


def _extract(path: str, data: bytes, options: object) -> list[CodeFunction]:
    from embedding.extract import extract_source

    result = extract_source(path, data, options)  # type: ignore[arg-type]
    return list(result.functions)


def _walk_directory(root: Path, options: object) -> Iterable[tuple[str, bytes]]:
    from embedding.extract import skip_reason

    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            if skip_reason(rel, options) is not None or full.is_symlink():  # type: ignore[arg-type]
                continue
            try:
                yield rel, full.read_bytes()
            except OSError as exc:
                log.warning("training.read_failed path=%s error=%s", rel, exc)


def is_git_repository(root: Path) -> bool:
    return (root / ".git").exists()


def collect_functions(
    root: Path, *, commit: str = "HEAD", languages: Sequence[str] | None = None, options: object | None = None
) -> tuple[list[CodeFunction], str | None]:
    """Every function of a repository at ``commit`` (or of a plain directory), with the resolved SHA."""
    opts = _extract_options(languages, options)
    functions: list[CodeFunction] = []
    if is_git_repository(root):
        from embedding.extract import skip_reason
        from embedding.source import GitSource

        source = GitSource(root)
        sha = source.resolve(commit)
        for path in source.list_files(sha):
            if skip_reason(path, opts) is None:  # type: ignore[arg-type]
                functions.extend(_extract(path, source.read(sha, path), opts))
        return functions, sha
    for rel, data in _walk_directory(root, opts):
        functions.extend(_extract(rel, data, opts))
    return functions, None


def history_pairs(
    root: Path,
    head: str,
    *,
    max_commits: int,
    max_pairs: int,
    languages: Sequence[str] | None = None,
    options: object | None = None,
    seen: dict[str, int] | None = None,
) -> list[TrainingPair]:
    """(old → new) pairs of functions that changed modestly in the last ``max_commits`` commits.

    ``seen`` (when given) is told how many commits were read and how many had a parent to compare
    with: a repository of one commit has none, so it gives no pairs.
    """
    if max_commits <= 0 or max_pairs <= 0 or not is_git_repository(root):
        return []
    import git

    from embedding.extract import skip_reason
    from embedding.source import GitSource

    opts = _extract_options(languages, options)
    source = GitSource(root)
    try:
        commits = list(git.Repo(root).iter_commits(head, max_count=max_commits, first_parent=True))
    except (git.GitCommandError, ValueError) as exc:
        raise GitError(f"cannot read the history of {root} at {head}: {exc}") from exc
    per_language: dict[str, int] = defaultdict(int)
    pairs: list[TrainingPair] = []
    if seen is not None:
        seen["commits"] = len(commits)
        seen["commits_with_parent"] = sum(1 for c in commits if c.parents)
    for commit in commits:
        if not commit.parents:
            continue
        parent = commit.parents[0].hexsha
        changes = source.changes(parent, commit.hexsha)
        moved = list(changes.renamed) + [(p, p) for p in changes.modified]
        for old_path, new_path in moved:
            if skip_reason(new_path, opts) is not None:  # type: ignore[arg-type]
                continue
            old_fns = {fn.qualified_name: fn for fn in _extract(old_path, source.read(parent, old_path), opts)}
            for fn in _extract(new_path, source.read(commit.hexsha, new_path), opts):
                old = old_fns.get(fn.qualified_name)
                pair = history_pair(old, fn) if old is not None else None
                if pair is not None and per_language[fn.language] < max_pairs:
                    per_language[fn.language] += 1
                    pairs.append(pair)
    return pairs


def mine_repository(
    root: Path,
    config: TrainConfig,
    *,
    languages: Sequence[str] | None = None,
    commit: str = "HEAD",
    options: object | None = None,
) -> MinedRepository:
    """Functions and split, filtered, capped training pairs of one repository."""
    root = Path(root)
    functions, sha = collect_functions(root, commit=commit, languages=languages, options=options)
    pairs = text_pairs(functions, identifiers=config.identifier_pairs, min_query_chars=config.min_query_chars)
    synthetic = synthetic_pairs(functions, per_function=config.synthetic_per_function, seed=config.seed)
    pairs += synthetic
    seen: dict[str, int] = {}
    history: list[TrainingPair] = []
    if sha is not None:
        history = history_pairs(
            root,
            sha,
            max_commits=config.history_commits,
            max_pairs=config.max_history_pairs,
            languages=languages,
            options=options,
            seen=seen,
        )
        pairs += history
    statistics: dict[str, object] = {
        "history_commits_scanned": seen.get("commits", 0),
        "history_pairs_found": len(history),
        "synthetic_pairs_found": len(synthetic),
        "synthetic_kinds": dict(sorted(Counter(p.clone_type or "" for p in synthetic).items())),
    }
    warnings: list[str] = []
    if not history:
        if sha is None:
            reason = "not a git repository: no history pairs; code→code pairs are synthetic edits only"
        elif config.history_commits <= 0:
            reason = "history_commits is 0: no history pairs; code→code pairs are synthetic edits only"
        elif seen.get("commits_with_parent", 0) == 0:
            reason = "one commit: no history pairs; code→code pairs are synthetic edits only"
        else:
            reason = "no function changed modestly in the history scanned: code→code pairs are synthetic only"
        statistics["history_note"] = reason
        warnings.append(reason)
        log.info("training.no_history root=%s reason=%s", root, reason)
    pairs = filter_pairs(
        pairs,
        min_code_chars=config.min_code_chars,
        max_code_chars=config.max_code_chars,
        min_query_chars=config.min_query_chars,
    )
    pairs = assign_splits(pairs, seed=config.seed, validation=config.validation_fraction, test=config.test_fraction)
    pairs = balance_kinds(pairs, config.synthetic_ratio, seed=config.seed)
    capped: list[TrainingPair] = []
    for language in sorted({p.language for p in pairs}):
        capped += cap_pairs(
            [p for p in pairs if p.language == language], config.max_pairs_per_language, seed=config.seed
        )
    log.info("training.mined root=%s functions=%d pairs=%d", root, len(functions), len(capped))
    return MinedRepository(
        root=root, commit=sha, functions=functions, pairs=capped, warnings=warnings, statistics=statistics
    )
