"""A repository-wide duplication report: clusters of near-duplicate functions and where they live.

``build_report`` takes every function of a commit (extracted with the plan's options; functions
marked ``doppel: ignore`` left out), searches each one's nearest neighbours through the read-only
view of the repository's index (``ReviewService.view``: the collection, with any files that differ
from the commit laid over it in memory), and judges each pair with the verdict of its vectors, as
a review does. Pairs judged duplicates are joined into clusters (union-find): a cluster is a set of
functions each reachable from the others through duplicate pairs. A pair of functions nested in a
duplicate pair of enclosing functions says nothing new and is folded away (the enclosing pair
stands for it), so is a pair of a function with one nested inside it.

Everything but ``build_report`` is pure over plain data: the clustering, the totals per directory
and language, and the report's JSON form (``DuplicationReport.to_dict``), which the HTML renderer
(``workers.services.dup_report_html``) reads. Bounds: the functions searched are those the index
would hold (the plan's size and file limits), each search asks for as many neighbours as a
review's search depth, and the clusters kept in the report are capped (``MAX_CLUSTERS``; the totals still count them all).
"""

from __future__ import annotations

import logging
import posixpath
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.domain import CodeFunction, FindingKind, RepoRef
from core.errors import DoppelError
from core.progress import Progress
from embedding.extract import extract_source, skip_reason
from embedding.languages import language_for_path
from workers.services.review import is_ignored, judged_at_any_depth, marker_lines

if TYPE_CHECKING:
    from embedding.encoder import Encoder
    from embedding.source import GitSource
    from embedding.verdict import Verdict
    from workers.services.overlay import BaseView
    from workers.services.plan import ReviewPlan
    from workers.services.review import ReviewService

logger = logging.getLogger(__name__)

EMBED_CHUNK = 256  # functions embedded (mostly from the cache) and searched at a time
MAX_CLUSTERS = 500  # clusters kept in a report, largest first; the totals count every one
REPORT_VERSION = 1


# --- data ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportFunction:
    """One function of the commit as the report shows it; ``id`` is its position in the report."""

    id: int
    language: str
    path: str
    qualified_name: str
    start_line: int
    end_line: int
    code: str
    body_hash: str = ""

    @property
    def lines(self) -> int:
        return self.end_line - self.start_line + 1

    @property
    def directory(self) -> str:
        return posixpath.dirname(self.path) or "."

    @classmethod
    def of(cls, id: int, fn: CodeFunction) -> ReportFunction:  # noqa: A002 - the report's own id
        return cls(id, fn.language, fn.path, fn.qualified_name, fn.start_line, fn.end_line, fn.code, fn.body_hash)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "language": self.language,
            "path": self.path,
            "qualified_name": self.qualified_name,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "lines": self.lines,
            "code": self.code,
        }


@dataclass(frozen=True)
class ReportPair:
    """Two functions (``first < second``, by id) the verdict judged near-duplicates."""

    first: int
    second: int
    score: float
    cosine: float
    identical: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "second": self.second,
            "score": round(self.score, 4),
            "cosine": round(self.cosine, 4),
            "identical": self.identical,
        }


@dataclass
class Cluster:
    """Functions joined by duplicate pairs. ``lines``: all their lines; ``redundant_lines``: what
    keeping one copy (the longest) would save."""

    members: list[ReportFunction]
    pairs: list[ReportPair]

    @property
    def lines(self) -> int:
        return sum(m.lines for m in self.members)

    @property
    def redundant_lines(self) -> int:
        return self.lines - max(m.lines for m in self.members)

    @property
    def best_score(self) -> float:
        return max(p.score for p in self.pairs)

    @property
    def languages(self) -> list[str]:
        return sorted({m.language for m in self.members})

    def to_dict(self, number: int) -> dict[str, Any]:
        return {
            "id": number,
            "functions": len(self.members),
            "lines": self.lines,
            "redundant_lines": self.redundant_lines,
            "best_score": round(self.best_score, 4),
            "languages": self.languages,
            "members": [m.to_dict() for m in self.members],
            "pairs": [p.to_dict() for p in self.pairs],
        }


@dataclass
class Totals:
    """How much code a part of the repository holds and how much of it sits in clusters."""

    functions: int = 0
    lines: int = 0
    duplicated_functions: int = 0
    duplicated_lines: int = 0
    clusters: int = 0

    @property
    def share(self) -> float:
        """Duplicated lines over all function lines (0 when there are none)."""
        return self.duplicated_lines / self.lines if self.lines else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "functions": self.functions,
            "lines": self.lines,
            "duplicated_functions": self.duplicated_functions,
            "duplicated_lines": self.duplicated_lines,
            "clusters": self.clusters,
            "share": round(self.share, 4),
        }


@dataclass
class ReportStats:
    files: int = 0
    files_skipped: int = 0
    functions: int = 0
    ignored: int = 0  # functions marked ``doppel: ignore``
    searches: int = 0
    pairs_judged: int = 0
    duplicate_pairs: int = 0
    folded_pairs: int = 0
    seconds: float = 0.0
    view: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["seconds"] = round(self.seconds, 2)
        return data


@dataclass
class DuplicationReport:
    repo: str
    commit: str
    clusters: list[Cluster]
    totals: Totals
    by_language: dict[str, Totals]
    by_directory: dict[str, Totals]
    stats: ReportStats = field(default_factory=ReportStats)
    verdicts: dict[str, dict[str, Any]] = field(default_factory=dict)  # adapter version → verdict
    warnings: list[str] = field(default_factory=list)
    clusters_left_out: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``doppel report --format json``), which the HTML renderer reads too."""
        return {
            "version": REPORT_VERSION,
            "repo": self.repo,
            "commit": self.commit,
            "totals": self.totals.to_dict(),
            "by_language": {k: v.to_dict() for k, v in sorted(self.by_language.items())},
            "by_directory": {k: v.to_dict() for k, v in sorted(self.by_directory.items())},
            "clusters": [c.to_dict(n) for n, c in enumerate(self.clusters, 1)],
            "clusters_left_out": self.clusters_left_out,
            "verdicts": self.verdicts,
            "stats": self.stats.to_dict(),
            "warnings": list(self.warnings),
        }


# --- pure pieces ---------------------------------------------------------------------------------
def encloses(outer: ReportFunction, inner: ReportFunction) -> bool:
    """``inner`` lies inside ``outer`` in the same file (and is not ``outer`` itself)."""
    if outer.path != inner.path or (outer.start_line, outer.end_line) == (inner.start_line, inner.end_line):
        return False
    return outer.start_line <= inner.start_line and inner.end_line <= outer.end_line


def fold_nested_pairs(functions: Sequence[ReportFunction], pairs: Iterable[ReportPair]) -> tuple[list[ReportPair], int]:
    """``(kept, folded)``: pairs without those that an enclosing duplicate pair already covers.

    A pair (a, b) is folded when another pair (A, B) has A enclosing a and B enclosing b (either
    way round): the callbacks of two copied functions are copies because their hosts are. A pair
    whose two functions nest in each other is not a duplication at all and is dropped too."""
    pairs = list(pairs)
    by_id = {f.id: f for f in functions}
    # Only a pair between the same two files can cover another: compare within those groups.
    by_files: dict[frozenset[str], list[ReportPair]] = {}
    for pair in pairs:
        by_files.setdefault(frozenset((by_id[pair.first].path, by_id[pair.second].path)), []).append(pair)
    kept: list[ReportPair] = []
    folded = 0
    for pair in pairs:
        a, b = by_id[pair.first], by_id[pair.second]
        if encloses(a, b) or encloses(b, a):
            folded += 1
            continue
        covered = False
        for other in by_files[frozenset((a.path, b.path))]:
            if other is pair:
                continue
            x, y = by_id[other.first], by_id[other.second]
            if (_covers(x, a) and _covers(y, b)) or (_covers(x, b) and _covers(y, a)):
                covered = True
                break
        if covered:
            folded += 1
        else:
            kept.append(pair)
    return kept, folded


def _covers(outer: ReportFunction, inner: ReportFunction) -> bool:
    return outer.id == inner.id or encloses(outer, inner)


def cluster_pairs(functions: Sequence[ReportFunction], pairs: Sequence[ReportPair]) -> list[Cluster]:
    """Clusters (union-find over ``pairs``), largest first: by lines, then functions, then path."""
    parent = {f.id: f.id for f in functions}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for pair in pairs:
        a, b = find(pair.first), find(pair.second)
        if a != b:
            parent[max(a, b)] = min(a, b)
    by_id = {f.id: f for f in functions}
    groups: dict[int, list[ReportPair]] = {}
    for pair in pairs:
        groups.setdefault(find(pair.first), []).append(pair)
    clusters = []
    for group in groups.values():
        ids = sorted({i for p in group for i in (p.first, p.second)})
        members = sorted((by_id[i] for i in ids), key=lambda f: (f.path, f.start_line, f.qualified_name))
        clusters.append(Cluster(members, sorted(group, key=lambda p: (-p.score, p.first, p.second))))
    clusters.sort(key=lambda c: (-c.lines, -len(c.members), c.members[0].path, c.members[0].start_line))
    return clusters


def totals_of(
    functions: Sequence[ReportFunction], clusters: Sequence[Cluster]
) -> tuple[Totals, dict[str, Totals], dict[str, Totals]]:
    """Overall totals, per language and per directory (the file's folder): every function counts
    towards ``functions``/``lines``, those in a cluster towards the duplicated figures too."""
    overall = Totals(clusters=len(clusters))
    by_language: dict[str, Totals] = {}
    by_directory: dict[str, Totals] = {}
    in_cluster: dict[int, int] = {}
    for number, cluster in enumerate(clusters):
        for member in cluster.members:
            in_cluster[member.id] = number
    for fn in functions:
        for bucket in (
            overall,
            by_language.setdefault(fn.language, Totals()),
            by_directory.setdefault(fn.directory, Totals()),
        ):
            bucket.functions += 1
            bucket.lines += fn.lines
            if fn.id in in_cluster:
                bucket.duplicated_functions += 1
                bucket.duplicated_lines += fn.lines
    for key, table in (("language", by_language), ("directory", by_directory)):
        seen: dict[str, set[int]] = {}
        for number, cluster in enumerate(clusters):
            for member in cluster.members:
                seen.setdefault(member.language if key == "language" else member.directory, set()).add(number)
        for name, numbers in seen.items():
            table[name].clusters = len(numbers)
    return overall, by_language, by_directory


# --- the service ---------------------------------------------------------------------------------
def extract_all(source: GitSource, commit: str, plan: ReviewPlan, stats: ReportStats) -> list[CodeFunction]:
    """Every function of ``commit`` the plan reads, but those marked ``doppel: ignore``."""
    options = plan.extract_options
    out: list[CodeFunction] = []
    for path in source.list_files(commit):
        if language_for_path(path) is None or skip_reason(path, options) is not None:
            continue
        stats.files += 1
        try:
            data = source.read(commit, path)
            result = extract_source(path, data, options)
        except DoppelError as exc:
            logger.info("report.unreadable path=%s reason=%s", path, exc)
            stats.files_skipped += 1
            continue
        if result.skipped is not None:
            stats.files_skipped += 1
            continue
        markers = marker_lines(data.decode("utf-8", "replace"))
        for fn in result.functions:
            if markers and is_ignored(fn, markers):
                stats.ignored += 1
            else:
                out.append(fn)
    return out


class _PairSearch:
    """Searches one function's neighbours and keeps the pairs the verdict calls duplicates; each
    pair is judged once, from whichever of its two functions finds the other first."""

    def __init__(
        self,
        reviewer: ReviewService,
        plan: ReviewPlan,
        view: BaseView,
        by_key: dict[tuple[str, str, int], ReportFunction],
        stats: ReportStats,
    ) -> None:
        self._reviewer, self._plan, self._view, self._by_key, self._stats = reviewer, plan, view, by_key, stats
        self.verdicts: dict[str, Verdict] = {}  # by adapter version
        self.pairs: list[ReportPair] = []
        self._judged: set[tuple[int, int]] = set()

    def neighbours(self, fn: CodeFunction, me: ReportFunction, vector: Any, version: str) -> None:
        verdict = self.verdicts.get(version) or self.verdicts.setdefault(
            version, self._reviewer.verdict_for(fn.language, self._plan)
        )
        # The review's search depth, plus one: the function finds itself first.
        limit = self._plan.search_depth + 1
        matches = self._view.search(vector, adapter_version=version, limit=limit, language=fn.language)
        self._stats.searches += 1
        rank = -1  # among the neighbours other than itself, as a review ranks them
        for match in matches:
            t = match.target
            other = self._by_key.get((t.path, t.qualified_name, t.start_line))
            if other is None or other.id == me.id:
                continue  # itself, or something this commit does not hold (an ignored function)
            rank += 1
            key = (min(me.id, other.id), max(me.id, other.id))
            if key in self._judged:
                continue
            identical = bool(me.body_hash) and me.body_hash == other.body_hash
            if not identical and verdict.best_possible(match.score) < verdict.duplicate:
                self._judged.add(key)  # the cosine is the same from the other side
                continue  # even identical tokens could not make it a duplicate
            signals = self._reviewer.signals(
                fn.language, match.score, (me.qualified_name, me.code), (other.qualified_name, other.code)
            )
            if rank >= self._plan.top_k and not judged_at_any_depth(
                identical, signals, self._reviewer.smaller_size(fn.language, me.code, other.code)
            ):
                # A review would not judge it this deep (review.shortlist); the other function of
                # the pair may still rank this one nearer.
                continue
            self._judged.add(key)
            self._stats.pairs_judged += 1
            if verdict.classify(signals, identical=identical) is FindingKind.DUPLICATE:
                self.pairs.append(ReportPair(key[0], key[1], verdict.score(signals), match.score, identical))


def build_report(
    reviewer: ReviewService,
    encoder: Encoder,
    source: GitSource,
    repo: RepoRef,
    commit: str,
    plan: ReviewPlan,
    *,
    name: str | None = None,
    progress: bool | None = None,
    max_clusters: int = MAX_CLUSTERS,
) -> DuplicationReport:
    """The duplication report of ``commit``: see the module docstring. Never writes the index.

    ``name``: what the report calls the repository (default: its slug). ``progress``: a live line
    counted in functions (default: when stderr is a terminal); else INFO log lines (``core.progress``)."""
    started = time.perf_counter()
    sha = source.resolve(commit)
    stats = ReportStats()
    extracted = extract_all(source, sha, plan, stats)
    functions = [ReportFunction.of(i, fn) for i, fn in enumerate(extracted)]
    stats.functions = len(functions)
    by_key = {(f.path, f.qualified_name, f.start_line): f for f in functions}
    view = reviewer.view(source, repo, sha, plan)
    stats.view = view.stats.to_dict()
    search = _PairSearch(reviewer, plan, view, by_key, stats)
    with Progress(f"searching {name or repo.slug}", total=len(extracted), terminal=progress) as shown:
        for start in range(0, len(extracted), EMBED_CHUNK):
            chunk = extracted[start : start + EMBED_CHUNK]
            vectors = encoder.embed_functions(chunk)  # (n, dim); the cache answers for indexed code
            for offset, (fn, vector) in enumerate(zip(chunk, vectors, strict=True)):
                search.neighbours(fn, functions[start + offset], vector, encoder.adapter_version(fn.language))
                shown.advance()
    pairs, verdicts = search.pairs, search.verdicts
    stats.duplicate_pairs = len(pairs)
    kept, stats.folded_pairs = fold_nested_pairs(functions, pairs)
    clusters = cluster_pairs(functions, kept)
    overall, by_language, by_directory = totals_of(functions, clusters)
    stats.seconds = time.perf_counter() - started
    logger.info(
        "report.done repo=%s commit=%s functions=%d clusters=%d duplicated_lines=%d seconds=%.1f",
        repo.slug, sha[:12], len(functions), len(clusters), overall.duplicated_lines, stats.seconds,
    )  # fmt: skip
    return DuplicationReport(
        repo=name or repo.slug,
        commit=sha,
        clusters=clusters[:max_clusters],
        totals=overall,
        by_language=by_language,
        by_directory=by_directory,
        stats=stats,
        verdicts={version: v.to_dict() for version, v in sorted(verdicts.items())},
        warnings=list(view.warnings),
        clusters_left_out=max(0, len(clusters) - max_clusters),
    )
