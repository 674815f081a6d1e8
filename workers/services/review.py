"""Review a change: which functions it adds or changes, and what existing code each resembles.

``ReviewService.review`` takes the functions a commit range adds or changes (a function is
changed when an added line of the merge-base diff falls inside it), extracts them at the head,
makes sure the index matches the base, searches each against it, and classifies every match with
the verdict of ``embedding.verdict`` (cosine combined with identifier-normalised lexical
similarity). Functions the same change adds twice are compared with each other too.

What is left out of the search, and why:

* the function's own previous version (same path and qualified name, or the path the file was
  renamed from): a change to a function is not a copy of it;
* files the change deletes, and functions that no longer exist at the head (moved or renamed
  away): moving code is not duplicating it.

The result (``ReviewResult``) is plain data; printing and commenting belong to the edges.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from core.domain import CodeFunction, Finding, FindingKind, IndexedFunction, Match, RepoRef
from core.errors import ConfigError, DoppelError, ReviewError
from core.settings import Settings
from embedding.extract import ExtractOptions, extract_source, skip_reason
from embedding.languages import LANGUAGES, language_for_path
from embedding.lexical import NEAR_COPY_SIMILARITY, NormalizedCode, normalize
from embedding.verdict import Signals, Verdict, signals_of
from workers.services.findings import explain_entry, fold_nested

if TYPE_CHECKING:
    from embedding.encoder import Encoder
    from embedding.index import VectorIndex
    from embedding.source import GitSource
    from workers.services.indexing import IndexService
    from workers.services.overlay import BaseView
    from workers.services.plan import ReviewPlan

logger = logging.getLogger(__name__)

# Beyond the nearest top_k, a lexical near-copy is judged only from this many normalised tokens
# (the smaller function's): below it, idioms such as memoised getters normalise to the same
# tokens everywhere. Chosen on the calibrate split of benchmarks/bench_real_edits.py.
LEXICAL_LEG_MIN_TOKENS = 30
SEARCH_MARGIN = 5  # extra hits per search, so that dropping a function's own old version keeps the depth
_KIND_ORDER = {FindingKind.DUPLICATE: 0, FindingKind.INTRA_PR: 1, FindingKind.RELATED: 2}


# An in-code opt-out, in any comment style: on the line above a function or inside it, the
# function is neither reviewed nor offered as a match (e.g. deliberately duplicated code).
IGNORE_MARKER = re.compile(r"doppel:\s*ignore\b")


# --- pure helpers --------------------------------------------------------------------------------
def marker_lines(text: str) -> set[int]:
    """1-based numbers of the lines of ``text`` that carry the ``doppel: ignore`` marker."""
    return {number for number, line in enumerate(text.splitlines(), 1) if IGNORE_MARKER.search(line)}


def is_ignored(fn: CodeFunction, markers: set[int]) -> bool:
    """Whether a marker sits on the line above ``fn`` or inside it."""
    return any(fn.start_line - 1 <= line <= fn.end_line for line in markers)


def changed_functions(functions: Sequence[CodeFunction], added: set[int]) -> list[CodeFunction]:
    """The functions that contain at least one added line, in their original order."""
    if not added:
        return []
    return [fn for fn in functions if any(fn.contains_line(line) for line in added)]


@dataclass(frozen=True)
class Candidate:
    """A neighbour found by the search, with the verdict's signals for the pair."""

    match: Match
    signals: Signals
    identical: bool
    extra: dict[str, Any]
    tokens: int = 0  # the smaller function's normalised token count


def shortlist(
    candidates: Sequence[Candidate],
    top_k: int,
    near_copy: float = NEAR_COPY_SIMILARITY,
    min_tokens: int = LEXICAL_LEG_MIN_TOKENS,
) -> list[Candidate]:
    """The candidates a review judges, in the search's order: the ``top_k`` nearest by cosine, and
    deeper ones that are identical or lexical near-copies (identifier-normalised token similarity
    at or above ``near_copy``) of at least ``min_tokens`` tokens. A renamed copy that the cosine
    ranks below unrelated code sharing its words is still judged; an unrelated neighbour that deep
    is not, nor a one-line idiom that normalises alike everywhere (``@x ||= []``, ``return self._x``)."""
    return [
        c
        for c in candidates
        if c.extra["rank"] < top_k or judged_at_any_depth(c.identical, c.signals, c.tokens, near_copy, min_tokens)
    ]


def judged_at_any_depth(
    identical: bool,
    signals: Signals,
    tokens: int,
    near_copy: float = NEAR_COPY_SIMILARITY,
    min_tokens: int = LEXICAL_LEG_MIN_TOKENS,
) -> bool:
    """Whether a neighbour ranked deeper than top_k is still judged (``shortlist``; the
    repository report applies the same rule): an identical body, or a lexical near-copy of at
    least ``min_tokens`` normalised tokens (``tokens``: the smaller function's count)."""
    return identical or (signals.lexical >= near_copy and tokens >= min_tokens)


def is_previous_version(fn: CodeFunction, target: IndexedFunction, renamed_from: dict[str, str]) -> bool:
    """Whether ``target`` (at the base) is ``fn``'s own earlier version: same name, same or renamed-from path."""
    if target.qualified_name != fn.qualified_name:
        return False
    return target.path == fn.path or target.path == renamed_from.get(fn.path)


def sort_findings(findings: Sequence[Finding]) -> list[Finding]:
    """Duplicates first, then copies within the change, then related code; best score first within a kind."""
    return sorted(
        findings,
        key=lambda f: (
            _KIND_ORDER[f.kind],
            -f.score,
            f.function.path,
            f.function.start_line,
            f.target.path,
            f.target.start_line,
        ),
    )


def code_lines(data: bytes, start_line: int, end_line: int) -> str:
    """Lines ``start_line``..``end_line`` (1-based, inclusive) of a file's bytes, as text."""
    lines = data.decode("utf-8", "replace").splitlines()
    return "\n".join(lines[start_line - 1 : end_line])


def _brief(fn: CodeFunction) -> dict[str, Any]:
    return {
        "language": fn.language,
        "path": fn.path,
        "qualified_name": fn.qualified_name,
        "start_line": fn.start_line,
        "end_line": fn.end_line,
    }


# --- result --------------------------------------------------------------------------------------
@dataclass
class ReviewStats:
    """What a review did; ``index`` is the ``ViewStats.to_dict()`` of how the base was searched
    (the index alone, with the base's differing files laid over it, or in memory)."""

    files_changed: int = 0
    functions_changed: int = 0
    functions_over_cap: int = 0  # changed functions left unreviewed by the plan's max_functions
    searches: int = 0
    candidates: int = 0  # matches scored after leaving out own versions and moved code
    seconds: float = 0.0
    index: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass
class ReviewResult:
    """The outcome of reviewing ``base..head``: changed functions and sorted findings, no rendering."""

    repo: RepoRef
    base: str
    head: str
    changed: list[CodeFunction]
    findings: list[Finding]
    warnings: list[str] = field(default_factory=list)
    stats: ReviewStats = field(default_factory=ReviewStats)
    merge_base: str = ""
    verdicts: dict[str, Verdict] = field(default_factory=dict)  # by adapter version
    candidates: list[dict[str, Any]] = field(default_factory=list)  # every scored pair, with explain
    pre_existing: list[Finding] = field(default_factory=list)  # duplicates the base already had
    plan: ReviewPlan | None = field(default=None, repr=False)  # the plan the review ran under

    @property
    def needs_index(self) -> bool:
        """The base was searched in memory because there was no usable index: ask for one."""
        return self.stats.index is not None and self.stats.index.get("mode") == "memory"

    def of_kind(self, kind: FindingKind) -> list[Finding]:
        return [f for f in self.findings if f.kind is kind]

    @property
    def duplicates(self) -> list[Finding]:
        return self.of_kind(FindingKind.DUPLICATE)

    @property
    def related(self) -> list[Finding]:
        return self.of_kind(FindingKind.RELATED)

    @property
    def intra_pr(self) -> list[Finding]:
        return self.of_kind(FindingKind.INTRA_PR)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``doppel review --format json``)."""
        return {
            "repo": self.repo.slug,
            "base": self.base,
            "head": self.head,
            "merge_base": self.merge_base,
            "changed": [_brief(fn) for fn in self.changed],
            "findings": [f.to_dict() for f in self.findings],
            "counts": {kind.value: len(self.of_kind(kind)) for kind in FindingKind},
            "verdicts": {version: v.to_dict() for version, v in sorted(self.verdicts.items())},
            "pre_existing": [f.to_dict() for f in self.pre_existing],
            **({"candidates": self.candidates} if self.candidates else {}),
            "warnings": list(self.warnings),
            "stats": self.stats.to_dict(),
            **({"plan": self.plan.to_dict()} if self.plan is not None else {}),
        }


# --- the service ---------------------------------------------------------------------------------
class ReviewService:
    """Reviews commit ranges and answers similarity look-ups against a repository's index."""

    def __init__(self, settings: Settings, encoder: Encoder, index: VectorIndex, indexer: IndexService) -> None:
        """The collection searched for a repository is the indexer's (``IndexService.collection``):
        the one built with the adapters this encoder carries."""
        self._settings = settings
        self._encoder = encoder
        self._index = index
        self._indexer = indexer
        self._normalized: dict[tuple[str, str], NormalizedCode] = {}

    # --- thresholds and lexical similarity -----------------------------------------------------
    def verdict_for(self, language: str | None, plan: ReviewPlan | None = None) -> Verdict:
        """The verdict of the vectors ``language`` is embedded with (its adapter's, else the
        default) under the plan's strictness and thresholds."""
        name = self._encoder.adapter_for(language)
        metadata = self._encoder.adapter_metadata(name) if name is not None else {}
        return (plan or self.default_plan()).verdict(name, metadata)

    def _norm(self, language: str, code: str) -> NormalizedCode:
        key = (language, code)
        found = self._normalized.get(key)
        if found is None:
            if len(self._normalized) > 4096:
                self._normalized.clear()
            found = self._normalized[key] = normalize(language, code)
        return found

    def signals(self, language: str, cosine: float, first: tuple[str, str], second: tuple[str, str]) -> Signals:
        """The verdict's signals for two functions given as ``(qualified name, code)``."""
        return signals_of(cosine, self._norm(language, first[1]), self._norm(language, second[1]), first[0], second[0])

    def smaller_size(self, language: str, first: str, second: str) -> int:
        """The normalised token count of the smaller of two functions' code."""
        return min(len(self._norm(language, first)), len(self._norm(language, second)))

    # --- review --------------------------------------------------------------------------------
    def review(
        self,
        source: GitSource,
        repo: RepoRef,
        base: str,
        head: str = "HEAD",
        *,
        plan: ReviewPlan | None = None,
        explain: bool = False,
    ) -> ReviewResult:
        """Findings for the functions that ``head`` adds or changes relative to ``base``.

        ``plan``: the job's plan (default: the settings alone); it decides what is extracted, how
        many functions are reviewed, the verdict and what is searched. The index is never written:
        the base is searched through ``overlay.open_view``. ``explain``: also record every scored
        pair with its signals (``ReviewResult.candidates``)."""
        plan = plan or self.default_plan()
        options = plan.extract_options
        started = time.perf_counter()
        base_sha, head_sha = source.resolve(base), source.resolve(head)
        merge_base = source.merge_base(base_sha, head_sha)
        added = source.added_lines(base_sha, head_sha)
        changes = source.changes(merge_base, head_sha)
        renamed_from = {new: old for old, new in changes.renamed}
        stats = ReviewStats(files_changed=len(added))
        warnings: list[str] = [f"{plan.problem} (the defaults were used)"] if plan.problem else []
        changed = self._changed_at_head(source, head_sha, added, warnings, options)
        stats.functions_changed = len(changed)
        if len(changed) > plan.max_functions:
            stats.functions_over_cap = len(changed) - plan.max_functions
            changed = changed[: plan.max_functions]
            warnings.append(
                f"{stats.functions_over_cap} more changed functions were not reviewed: a review covers at most "
                f"{plan.max_functions} (DOPPEL_REVIEW_MAX_FUNCTIONS)"
            )
        result = ReviewResult(repo, base_sha, head_sha, changed, [], warnings, stats, merge_base, plan=plan)
        if not changed:
            stats.seconds = time.perf_counter() - started
            return result

        view = self.view(source, repo, base_sha, plan)
        stats.index = view.stats.to_dict()
        warnings += view.warnings
        vectors = self._encoder.embed_functions(changed)  # (N, dim)
        deleted = set(changes.deleted)
        head_checker = _HeadPresence(source, head_sha, changes, options)
        findings: list[Finding] = []
        for fn, vector in zip(changed, vectors, strict=True):
            version = self._encoder.adapter_version(fn.language)
            verdict = result.verdicts.get(version) or result.verdicts.setdefault(
                version, self.verdict_for(fn.language, plan)
            )
            matches = self._search(view, vector, version, plan.search_depth + SEARCH_MARGIN, fn.language, deleted)
            stats.searches += 1
            kept = [
                m
                for m in matches
                if not is_previous_version(fn, m.target, renamed_from)
                and not IGNORE_MARKER.search(m.target.code)
                and head_checker.still_there(m.target)
            ][: plan.search_depth]
            scored = [
                self._score(source, base_sha, fn, match, rank)
                for rank, match in enumerate(kept)
                if rank < plan.top_k
                or verdict.best_possible(match.score) >= verdict.related
                or (bool(fn.body_hash) and fn.body_hash == match.target.body_hash)
            ]  # deeper than top_k, only what could still be reported is scored
            judged = shortlist(scored, plan.top_k)
            stats.candidates += len(judged)
            for candidate in judged:
                explained = result.candidates if explain else None
                finding = self._judge(fn, candidate, version, verdict, explained)
                if finding is not None:
                    findings.append(finding)
        findings += self._intra_change(repo, head_sha, changed, vectors, renamed_from, result.verdicts, view)
        findings = fold_nested(findings, changed, plan.settings.min_nested_function_lines)
        introduced, result.pre_existing = self._split_pre_existing(
            source, merge_base, findings, renamed_from, result, view
        )
        result.findings = sort_findings(introduced)
        stats.seconds = time.perf_counter() - started
        logger.info(
            "review.done repo=%s base=%s head=%s changed=%d findings=%d seconds=%.2f",
            repo.slug, base_sha[:12], head_sha[:12], len(changed), len(result.findings), stats.seconds,
        )  # fmt: skip
        return result

    def _changed_at_head(
        self,
        source: GitSource,
        head_sha: str,
        added: dict[str, set[int]],
        warnings: list[str],
        options: ExtractOptions,
    ) -> list[CodeFunction]:
        changed: list[CodeFunction] = []
        for path in sorted(added):
            if language_for_path(path) is None or skip_reason(path, options) is not None:
                continue  # never read: another language, or ignored by the plan
            try:
                data = source.read(head_sha, path)
            except DoppelError as exc:
                warnings.append(f"{path}: not reviewed: {exc}")
                continue
            extracted = extract_source(path, data, options)
            warnings += extracted.warnings
            if extracted.skipped:
                warnings.append(f"{path}: not reviewed: {extracted.skipped}")
                continue
            markers = marker_lines(data.decode("utf-8", "replace"))
            changed += [fn for fn in changed_functions(extracted.functions, added[path]) if not is_ignored(fn, markers)]
        return changed

    def view(self, source: GitSource, repo: RepoRef, base_sha: str, plan: ReviewPlan) -> BaseView:
        """The repository's index as ``base_sha`` sees it, read-only (``overlay.open_view``)."""
        from workers.services.overlay import open_view

        return open_view(self._indexer, self._index, self._encoder, source, repo, base_sha, plan)

    def default_plan(self) -> ReviewPlan:
        """The plan of a caller that resolved none: these settings, no repository file."""
        from workers.services.plan import resolve_plan

        return resolve_plan(self._settings)

    @staticmethod
    def _search(
        view: BaseView, vector: Any, version: str, limit: int, language: str | None, exclude: set[str]
    ) -> list[Match]:
        return view.search(vector, adapter_version=version, limit=limit, language=language, exclude_paths=exclude)

    def _score(self, source: GitSource, base_sha: str, fn: CodeFunction, match: Match, rank: int) -> Candidate:
        """One neighbour of ``fn`` with the verdict's signals (``rank``: its place by cosine)."""
        target = match.target
        extra: dict[str, Any] = {"rank": rank}
        code = target.code or self._code_at(source, base_sha, target)
        if not code:  # nothing to compare with: the lexical signals fall back to the cosine
            code, extra["lexical"] = "", "unavailable"
        signals = self.signals(fn.language, match.score, (fn.qualified_name, fn.code), (target.qualified_name, code))
        if not code:
            signals = Signals(match.score, match.score, match.score, 1.0, signals.name, signals.signature)
        identical = bool(fn.body_hash) and fn.body_hash == target.body_hash
        tokens = self.smaller_size(fn.language, fn.code, code) if code else 0
        return Candidate(match, signals, identical, extra, tokens)

    @staticmethod
    def _judge(
        fn: CodeFunction,
        candidate: Candidate,
        version: str,
        verdict: Verdict,
        explain: list[dict[str, Any]] | None = None,
    ) -> Finding | None:
        match, signals, identical, extra = (
            candidate.match,
            candidate.signals,
            candidate.identical,
            dict(candidate.extra),
        )
        target = match.target
        kind = verdict.classify(signals, identical=identical)
        score = verdict.score(signals)
        if explain is not None:
            explain.append(explain_entry(fn, target, extra["rank"], signals, score, kind))
        if kind is None:
            return None
        if identical:
            extra["identical"] = True
        extra["signals"] = signals.to_dict()
        return Finding(kind, fn, target, score, match.score, signals.lexical, version, extra)

    @staticmethod
    def _code_at(source: GitSource, commit: str, target: IndexedFunction) -> str:
        try:
            return code_lines(source.read(commit, target.path), target.start_line, target.end_line)
        except DoppelError:
            return ""

    def _intra_change(
        self,
        repo: RepoRef,
        head_sha: str,
        changed: Sequence[CodeFunction],
        vectors: Any,
        renamed_from: dict[str, str],
        verdicts: dict[str, Verdict],
        view: BaseView,
    ) -> list[Finding]:
        """INTRA_PR findings: two functions new in this change that copy each other."""
        new = [i for i, fn in enumerate(changed) if not self._existed_at_base(view, fn, renamed_from)]
        findings: list[Finding] = []
        for a_pos, i in enumerate(new):
            for j in new[a_pos + 1 :]:
                first, second = changed[i], changed[j]
                if first.language != second.language or _nested(first, second):
                    continue
                version = self._encoder.adapter_version(first.language)
                verdict = verdicts.get(version) or verdicts.setdefault(
                    version, self.verdict_for(first.language, view.plan)
                )
                cosine = float(vectors[i] @ vectors[j])
                identical = first.body_hash == second.body_hash
                if not identical and verdict.best_possible(cosine) < verdict.duplicate:
                    continue  # even identical tokens could not make it a duplicate
                signals = self.signals(
                    first.language, cosine, (first.qualified_name, first.code), (second.qualified_name, second.code)
                )
                if verdict.classify(signals, identical=identical) is not FindingKind.DUPLICATE:
                    continue
                earlier, later = sorted((first, second), key=lambda f: (f.path, f.start_line))
                target = IndexedFunction.from_function(repo, earlier, commit=head_sha, adapter_version=version)
                extra: dict[str, Any] = {"signals": signals.to_dict(), **({"identical": True} if identical else {})}
                score = verdict.score(signals)
                findings.append(
                    Finding(FindingKind.INTRA_PR, later, target, score, cosine, signals.lexical, version, extra)
                )
        return findings

    def _split_pre_existing(
        self,
        source: GitSource,
        merge_base: str,
        findings: list[Finding],
        renamed_from: dict[str, str],
        result: ReviewResult,
        view: BaseView,
    ) -> tuple[list[Finding], list[Finding]]:
        """``(introduced, pre_existing)``: a duplicate is pre-existing when the changed function's
        previous version (at the merge base) was already a duplicate of the same target, so the
        change did not introduce it (an edit inside a method that already had a twin)."""
        duplicates = [f for f in findings if f.kind is FindingKind.DUPLICATE]
        previous: dict[tuple[str, str], CodeFunction] = {}
        for finding in duplicates:
            fn = finding.function
            key = (fn.path, fn.qualified_name)
            if key not in previous:
                old = self._previous_version(source, merge_base, fn, renamed_from, view.plan)
                if old is not None:
                    previous[key] = old
        if not previous:
            return findings, []
        olds = list(previous.values())
        vectors = dict(zip(previous, self._encoder.embed_functions(olds), strict=True))
        limit = view.plan.search_depth + SEARCH_MARGIN
        pre_existing: list[Finding] = []
        for finding in duplicates:
            key = (finding.function.path, finding.function.qualified_name)
            old = previous.get(key)
            if old is None:
                continue
            target = finding.target
            # The previous version's cosine to the same target, as the index stores the target.
            hits = self._search(view, vectors[key], finding.adapter_version, limit, old.language, set())
            cosine = next((m.score for m in hits if _same_function(m.target, target)), None)
            if cosine is None:
                continue  # the target was not even among the previous version's neighbours
            signals = self.signals(
                old.language, cosine, (old.qualified_name, old.code), (target.qualified_name, target.code)
            )
            identical = bool(old.body_hash) and old.body_hash == target.body_hash
            if result.verdicts[finding.adapter_version].classify(signals, identical=identical) is FindingKind.DUPLICATE:
                pre_existing.append(finding)
        kept = [f for f in findings if all(f is not p for p in pre_existing)]
        return kept, pre_existing

    def _previous_version(
        self, source: GitSource, merge_base: str, fn: CodeFunction, renamed_from: dict[str, str], plan: ReviewPlan
    ) -> CodeFunction | None:
        path = renamed_from.get(fn.path, fn.path)
        try:
            functions = self._extract(source, merge_base, path, plan.extract_options)
        except DoppelError:
            return None  # the file is new
        same = [old for old in functions if old.qualified_name == fn.qualified_name]
        return same[0] if len(same) == 1 else None

    @staticmethod
    def _existed_at_base(view: BaseView, fn: CodeFunction, renamed_from: dict[str, str]) -> bool:
        paths = {fn.path, renamed_from.get(fn.path, fn.path)}
        stored = [f for path in paths for f in view.functions_in_path(path)]
        return any(f.qualified_name == fn.qualified_name for f in stored)

    # --- similar -------------------------------------------------------------------------------
    def similar(
        self,
        source: GitSource,
        repo: RepoRef,
        *,
        function: str | None = None,
        at: tuple[str, int] | None = None,
        query: str | None = None,
        commit: str = "HEAD",
        base: str | None = None,
        limit: int | None = None,
        plan: ReviewPlan | None = None,
    ) -> list[Match]:
        """The functions of ``base`` nearest to a function (by name or position at ``commit``) or to free text.

        ``function``: a qualified name (``Class.method``), optionally ``path:qualname``; ``at``:
        (path, line) of a line inside the function; ``query``: text, embedded once per vector
        space in use and searched across languages. Exactly one of the three. ``base`` (default:
        ``commit``) is the code searched, through the read-only view of the index: a search never
        writes, so ``/similar`` on a pull request (a fork's included) leaves the index as it was.
        """
        plan = plan or self.default_plan()
        given = [name for name, value in (("function", function), ("at", at), ("query", query)) if value]
        if len(given) != 1:
            raise ConfigError(f"similar needs exactly one of function, at or query; got {given or 'none'}")
        limit = limit or plan.top_k
        if limit < 1:
            raise ConfigError(f"limit must be at least 1, got {limit}")
        sha = source.resolve(commit)
        base_sha = source.resolve(base) if base else sha
        if query:
            return self._similar_to_text(self.view(source, repo, base_sha, plan), query, limit)
        fn = self.locate(source, sha, function=function, at=at, plan=plan)
        view = self.view(source, repo, base_sha, plan)
        vector = self._encoder.embed_functions([fn])[0]
        version = self._encoder.adapter_version(fn.language)
        matches = self._search(view, vector, version, limit + SEARCH_MARGIN, fn.language, set())
        return [m for m in matches if not is_previous_version(fn, m.target, {})][:limit]

    def _similar_to_text(self, view: BaseView, query: str, limit: int) -> list[Match]:
        languages = view.plan.languages or tuple(LANGUAGES)
        spaces: dict[str, str] = {}  # adapter version → a language embedded in it
        for language in sorted(languages):
            spaces.setdefault(self._encoder.adapter_version(language), language)
        matches: list[Match] = []
        for version, language in sorted(spaces.items()):
            vector = self._encoder.embed_query(query, language=language)
            matches += self._search(view, vector, version, limit, None, set())
        return sorted(matches, key=lambda m: (-m.score, m.target.path, m.target.start_line))[:limit]

    def locate(
        self,
        source: GitSource,
        commit: str,
        *,
        function: str | None = None,
        at: tuple[str, int] | None = None,
        plan: ReviewPlan | None = None,
    ) -> CodeFunction:
        """The function at ``commit`` named ``function`` (``qualname`` or ``path:qualname``) or containing ``at``."""
        options = (plan or self.default_plan()).extract_options
        if at is not None:
            path, line = at
            inside = [fn for fn in self._extract(source, commit, path, options) if fn.contains_line(line)]
            if not inside:
                raise ReviewError(f"no function contains line {line} of {path} at {commit[:12]}")
            return min(inside, key=lambda fn: fn.line_count)  # the innermost
        if not function:
            raise ConfigError("locate needs function or at")
        path, _, qualname = function.rpartition(":")
        paths = [path] if path else self._candidate_paths(source, commit, qualname, options)
        found = [fn for p in paths for fn in self._extract(source, commit, p, options)]
        exact = [fn for fn in found if fn.qualified_name == qualname]
        hits = exact or [fn for fn in found if fn.qualified_name.endswith("." + qualname)]
        if len(hits) == 1:
            return hits[0]
        if not hits:
            raise ReviewError(
                f"no function named {qualname!r} at {commit[:12]}{f' in {path}' if path else ''}: "
                "check the name, or point at it with FILE:LINE"
            )
        names = ", ".join(f"{fn.path}:{fn.qualified_name}" for fn in hits[:10])
        raise ReviewError(f"{qualname!r} is ambiguous ({len(hits)} functions): pass one of {names}")

    @staticmethod
    def _candidate_paths(source: GitSource, commit: str, qualname: str, options: ExtractOptions) -> list[str]:
        needle = qualname.rsplit(".", 1)[-1].encode()
        paths = []
        for path in source.list_files(commit):
            if language_for_path(path) is None or skip_reason(path, options) is not None:
                continue
            if needle in source.read(commit, path):
                paths.append(path)
        return paths

    @staticmethod
    def _extract(source: GitSource, commit: str, path: str, options: ExtractOptions) -> list[CodeFunction]:
        return extract_source(path, source.read(commit, path), options).functions


def _same_function(a: IndexedFunction, b: IndexedFunction) -> bool:
    return (a.path, a.qualified_name, a.start_line) == (b.path, b.qualified_name, b.start_line)


def _nested(a: CodeFunction, b: CodeFunction) -> bool:
    """One function lies inside the other (a nested function or a method of a nested class)."""
    if a.path != b.path:
        return False
    return (a.start_line <= b.start_line and b.end_line <= a.end_line) or (
        b.start_line <= a.start_line and a.end_line <= b.end_line
    )


class _HeadPresence:
    """Answers whether a function found at the base still exists at the head (else it was moved)."""

    def __init__(self, source: GitSource, head_sha: str, changes: Any, options: ExtractOptions) -> None:
        self._source = source
        self._head = head_sha
        self._touched = set(changes.modified) | {old for old, _ in changes.renamed}
        self._renamed_to = dict(changes.renamed)
        self._options = options
        self._names: dict[str, set[str]] = {}

    def still_there(self, target: IndexedFunction) -> bool:
        if target.path not in self._touched:
            return True  # untouched by the change (or changed on the base side only)
        path = self._renamed_to.get(target.path, target.path)
        names = self._names.get(path)
        if names is None:
            try:
                data = self._source.read(self._head, path)
                names = {fn.qualified_name for fn in extract_source(path, data, self._options).functions}
            except DoppelError:
                names = set()
            self._names[path] = names
        return target.qualified_name in names
