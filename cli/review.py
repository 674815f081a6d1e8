"""``doppel index``, ``doppel similar`` and ``doppel review``: the main job, from the terminal.

Each run resolves one ``ReviewPlan`` (``workers.services.plan``) from the settings and the
repository's ``.github/doppel.yml`` as committed at the commit it looks at (the base, for a
review), or the file given with ``--config``. The CLI is the one writer of its embedded index:
``doppel index`` moves it; ``review`` and ``similar`` only read it, laying the difference between
the indexed commit and their base over the search in memory. A newcomer's first ``review`` or
``similar``, with no index yet, indexes the default branch (``origin/HEAD``, else ``main`` or
``master``, else the base) once and goes on from there; it never moves an index to a base.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.domain import CodeFunction, Finding, FindingKind, Match
from core.errors import ConfigError
from core.settings import Settings, load_settings
from core.wording import describe

if TYPE_CHECKING:
    from core.domain import RepoRef
    from embedding.source import GitSource
    from workers.services.plan import ReviewPlan
    from workers.services.review import ReviewResult
    from workers.services.wiring import EmbeddingServices

DEFAULT_BRANCH_REFS = ("refs/remotes/origin/HEAD", "refs/heads/main", "refs/heads/master")
REVIEW_FORMATS = ("text", "json", "markdown", "sarif")
_GITHUB_REMOTE = re.compile(r"(?:[:/])([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(?:\.git)?/?$")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("path", nargs="?", default=".", type=Path, help="git repository (default: current directory)")
    common.add_argument("--repo", metavar="NAME", help="name of the repository's index (default: derived from PATH)")
    common.add_argument("--data-dir", type=Path, help="override DOPPEL_DATA_DIR for this run")
    common.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="a doppel.yml to use instead of the repository's .github/doppel.yml at the commit looked at",
    )

    p = subparsers.add_parser(
        "index",
        parents=[common],
        help="index a repository at a commit",
        description="Index every function of a repository at a commit. Re-running updates only what changed.",
    )
    p.add_argument("--commit", default="HEAD", help="commit or ref to index (default: HEAD)")
    p.add_argument("--full", action="store_true", help="re-index every file instead of updating from the last run")
    p.set_defaults(handler=run_index)

    p = subparsers.add_parser(
        "similar",
        parents=[common],
        help="find code similar to a function, a line or a text",
        description="Print the top matches in the repository's index with score, path:line and a snippet.",
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--function", metavar="QUALNAME", help="a function's qualified name, e.g. Parser.parse_header")
    what.add_argument("--at", metavar="FILE:LINE", help="the function containing this line")
    what.add_argument("--query", metavar="TEXT", help="free text, e.g. 'retry with exponential backoff'")
    p.add_argument("--commit", default="HEAD", help="commit to look at (default: HEAD)")
    p.add_argument("-k", "--top-k", type=int, help="number of matches (default: DOPPEL_TOP_K)")
    p.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: ranked matches with snippets (default); json: one object per match",
    )
    p.set_defaults(handler=run_similar)

    p = subparsers.add_parser(
        "review",
        parents=[common],
        help="review a change: near-duplicates and related code",
        description="Find near-duplicates and related code for the functions that HEAD adds or changes "
        "relative to BASE, searched against the index of BASE.",
    )
    p.add_argument("--base", required=True, help="base ref or commit, e.g. origin/main")
    p.add_argument("--head", default="HEAD", help="head ref or commit (default: HEAD)")
    p.add_argument(
        "--format",
        choices=REVIEW_FORMATS,
        default="text",
        help="text: findings for the terminal (default); json: the full result; markdown: exactly the "
        "summary and inline comments the bot or the Action would post on the pull request; sarif: the "
        "SARIF 2.1.0 file for GitHub Code Scanning (what the Action uploads)",
    )
    p.add_argument(
        "-o", "--output", metavar="FILE", type=Path, help="write the report to FILE instead of standard output"
    )
    p.add_argument(
        "--github-repo",
        metavar="OWNER/NAME",
        help="with --format markdown: the GitHub repository the links point at (default: the origin "
        "remote's, else the index name)",
    )
    p.add_argument(
        "--fail-on-duplicates",
        action="store_true",
        help="exit with status 3 when the change introduces a near-duplicate (duplication already in the base does not count)",
    )
    p.add_argument(
        "--explain",
        action="store_true",
        help="with --format json: add every scored pair (function, target, the verdict's signals, score, kind)",
    )
    p.set_defaults(handler=run_review)


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = args.data_dir
    return load_settings(**overrides)


def _open(args: argparse.Namespace):  # noqa: ANN202 - returns (services, source, repo)
    from embedding.source import GitSource
    from workers.services.wiring import build_services, local_repo_ref

    settings = _settings(args)
    source = GitSource(args.path)
    repo = local_repo_ref(args.path, args.repo)
    return build_services(settings, repo=repo), source, repo


def _plan(args: argparse.Namespace, services: EmbeddingServices, source: GitSource, commit: str) -> ReviewPlan:
    """The run's plan: ``--config FILE`` (which must be valid), else the repository's file at ``commit``
    (a bad one is reported in the result's warnings and the defaults apply)."""
    from workers.services.plan import config_at, config_from_path, resolve_plan

    if getattr(args, "config", None):
        plan = resolve_plan(services.settings, config_from_path(args.config), pointer=services.pointer)
        if plan.problem:
            raise ConfigError(plan.problem)
        return plan
    return resolve_plan(services.settings, config_at(source, commit), pointer=services.pointer)


def default_branch_commit(source: GitSource) -> str | None:
    """The commit of the repository's default branch, as far as a local clone knows it."""
    from core.errors import GitError

    for ref in DEFAULT_BRANCH_REFS:
        try:
            return source.resolve(ref)
        except GitError:
            continue
    return None


def _index_if_missing(
    args: argparse.Namespace, services: EmbeddingServices, source: GitSource, repo: RepoRef, base: str
) -> None:
    """A newcomer's first search: with no usable index, index the default branch (or the base) once."""
    plan = _plan(args, services, source, base)
    state = services.indexer.state(source, repo, plan=plan)
    if state.usable:
        return
    target = default_branch_commit(source) or base
    print(f"doppel: no index of {repo.slug} yet ({state.reason}): indexing {target[:12]} first", file=sys.stderr)
    services.indexer.update(source, repo, target, plan=_plan(args, services, source, target))


def run_index(args: argparse.Namespace) -> int:
    services, source, repo = _open(args)
    with services:
        commit = source.resolve(args.commit)
        plan = _plan(args, services, source, commit)
        if args.full:
            stats = services.indexer.index_commit(source, repo, commit, plan=plan)
        else:
            stats = services.indexer.update(source, repo, commit, plan=plan)
    print(render_index_stats(repo.slug, stats.to_dict()))
    return 0


def render_index_stats(slug: str, s: dict[str, Any]) -> str:
    """What ``doppel index`` did, and what the index now holds (also after a run with nothing to do)."""
    held = f"{s['held']} functions" if s.get("held") is not None else "its functions"
    if s.get("mode") == "noop":
        return f"index of {slug} already at {s['commit'][:12]}: it holds {held}; nothing to re-index"
    lines = [
        f"indexed {slug} at {s['commit'][:12]}"
        f"{' (only the files changed since the last run)' if s.get('mode') == 'update' else ''}: "
        f"{s['functions']} functions in {s['files_seen']} files "
        f"({s['embedded']} embedded, {s['cache_hits']} from cache, {s['deleted']} removed, "
        f"{s['files_skipped']} files skipped) in {s['seconds']:.1f}s; the index holds {held}"
    ]
    skipped = sorted((s.get("skipped") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    if skipped:
        shown = ", ".join(f"{n} {reason}" for reason, n in skipped[:4])
        more = f", {sum(n for _, n in skipped[4:])} for other reasons" if len(skipped) > 4 else ""
        lines.append(f"skipped: {shown}{more} (doppel -v index lists each file and why)")
    return "\n".join(lines)


def _parse_at(value: str) -> tuple[str, int]:
    path, sep, line = value.rpartition(":")
    if not sep or not path or not line.isdigit() or int(line) < 1:
        raise ConfigError(f"--at expects FILE:LINE with a positive line number, got {value!r}")
    return path, int(line)


def run_similar(args: argparse.Namespace) -> int:
    if args.top_k is not None and args.top_k < 1:
        raise ConfigError(f"--top-k must be at least 1, got {args.top_k}")
    services, source, repo = _open(args)
    with services:
        commit = source.resolve(args.commit)
        _index_if_missing(args, services, source, repo, commit)
        plan = _plan(args, services, source, commit)
        at = _parse_at(args.at) if args.at else None
        subject = None
        if args.function or at:
            # Say which function the name or line stands for before searching with it.
            subject = services.reviewer.locate(source, commit, function=args.function, at=at, plan=plan)
        matches = services.reviewer.similar(
            source,
            repo,
            function=f"{subject.path}:{subject.qualified_name}" if subject and args.function else None,
            at=at,
            query=args.query,
            commit=commit,
            limit=args.top_k,
            plan=plan,
        )
        closeness = _closeness(services, plan, subject, matches)
    header = (
        f"similar to {subject.path}:{subject.start_line}-{subject.end_line} {subject.qualified_name} at {commit[:12]}"
        if subject
        else f"similar to the text {args.query!r} at {commit[:12]}"
    )
    if args.format == "json":
        print(header, file=sys.stderr)
        rows = [
            {"score": round(m.score, 4), "kind": kind.value if kind else None, **m.target.to_payload()}
            for m, kind in zip(matches, closeness.kinds, strict=True)
        ]
        print(json.dumps(rows, indent=2))
    else:
        print(header)
        print(render_matches(matches, kinds=closeness.kinds))
    if matches and closeness.hint:
        print(closeness.hint, file=sys.stderr if args.format == "json" else sys.stdout)
    return 0


class _Closeness:
    """The verdict's word on each match (duplicate, related or nothing) and a hint when none is close."""

    def __init__(self, kinds: list[FindingKind | None], hint: str | None) -> None:
        self.kinds, self.hint = kinds, hint


def _closeness(
    services: EmbeddingServices, plan: ReviewPlan, subject: CodeFunction | None, matches: list[Match]
) -> _Closeness:
    """Judge each match as a review would: against the verdict's related bar.

    For a function, the verdict scores every signal of the pair (a review's own judgement). For
    free text there is no code to compare tokens with, so the pair is scored as a review scores a
    match whose code it cannot read: the lexical signals take the cosine's value."""
    from embedding.verdict import Signals

    reviewer = services.reviewer
    language = subject.language if subject else (matches[0].target.language if matches else None)
    verdict = reviewer.verdict_for(language, plan)
    kinds: list[FindingKind | None] = []
    best = 0.0
    for m in matches:
        t = m.target
        if subject is not None and t.code:
            signals = reviewer.signals(subject.language, m.score, (subject.qualified_name, subject.code),
                                       (t.qualified_name, t.code))  # fmt: skip
            identical = bool(subject.body_hash) and subject.body_hash == t.body_hash
        else:
            signals = Signals(m.score, m.score, m.score, 1.0, 0.0, 0.0)
            identical = False
        score = verdict.score(signals)
        best = max(best, score)
        kinds.append(verdict.classify(signals, identical=identical))
    hint = None
    if matches and not any(kinds):
        hint = (
            f"none of these is close: by the verdict the best scores {f'{best:.2f}' if best >= 0.01 else 'under 0.01'}, "
            f"below its related bar {verdict.related:.2f} (a review would not mention any of them)"
        )
    return _Closeness(kinds, hint)


def run_review(args: argparse.Namespace) -> int:
    services, source, repo = _open(args)
    patches: dict[str, str] = {}
    with services:
        base, head = source.resolve(args.base), source.resolve(args.head)
        _index_if_missing(args, services, source, repo, base)
        plan = _plan(args, services, source, base)
        result = services.reviewer.review(source, repo, base, head, plan=plan, explain=args.explain)
        if args.format == "markdown":
            patches = source.file_patches(base, head)
            slug = args.github_repo or github_slug(source.remote_url()) or repo.slug
            if "/" not in slug:
                print(f"doppel: links point at {slug!r}: pass --github-repo OWNER/NAME for real ones", file=sys.stderr)
    if args.format == "json":
        text = json.dumps(result.to_dict(), indent=2)
    elif args.format == "markdown":
        text = render_preview(
            result, patches, slug=slug, web_url=_web_url(services.settings), max_comments=plan.max_comments
        )
    elif args.format == "sarif":
        from bot.action import tool_version
        from bot.sarif import to_sarif

        text = json.dumps(to_sarif(result.findings, tool_version=tool_version(), head_sha=result.head), indent=2)
    else:
        text = render_review(result, show_pre_existing=services.settings.report_pre_existing)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.format} to {args.output}", file=sys.stderr)
    else:
        print(text)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    has_duplicates = any(f.kind is FindingKind.DUPLICATE for f in result.findings)
    return 3 if args.fail_on_duplicates and has_duplicates else 0


def github_slug(url: str | None) -> str | None:
    """``owner/name`` of a GitHub remote URL (``git@github.com:o/n.git``, ``https://host/o/n``)."""
    if not url:
        return None
    found = _GITHUB_REMOTE.search(url.strip())
    return found.group(1) if found else None


def _web_url(settings: Settings) -> str:
    from github_adapter.auth import web_url_for

    return (settings.github_web_url or web_url_for(settings.github_api_url)).rstrip("/")


def render_preview(result: ReviewResult, patches: dict[str, str], *, slug: str, web_url: str, max_comments: int) -> str:
    """``--format markdown``: the comments a pull request from ``head`` into ``base`` gets on its
    first review, rendered by the publishing code itself (``github_adapter.publish.preview``)."""
    from github_adapter.anchors import patches_by_path
    from github_adapter.publish import preview
    from github_adapter.render import Links

    links = Links(web_url=web_url, slug=slug, base_sha=result.base, head_sha=result.head)
    shown = preview(result, patches_by_path(patches.items()), links, max_comments=max_comments)
    n = len(shown.comments)
    out = [
        f"<!-- doppel review --format markdown: what a pull request of {result.head[:12]} into "
        f"{result.base[:12]} on {slug} gets -->"
    ]
    if shown.summary is None:
        out.append("doppel posts nothing on this change: no near-duplicates or related code found.")
        return "\n".join(out)
    out.append(f"doppel posts {n} inline comment{'s' if n != 1 else ''} in one review, and one summary comment.")
    if shown.review_body is not None:
        out += ["", "---", "", "**The review** (its body):", "", shown.review_body]
    for i, comment in enumerate(shown.comments, 1):
        out += ["", "---", "", f"**Inline comment {i} of {n}**, on `{comment.path}` line {comment.line}:", ""]
        out.append(comment.body)
    out += ["", "---", "", "**The summary comment:**", "", shown.summary]
    return "\n".join(out)


# --- text rendering (pure) -------------------------------------------------------------------


_OPENERS, _CLOSERS = "([{", ")]}"
SIGNATURE_MAX_LINES = 12  # a longer "signature" is a parse we got wrong: cut it there


def signature_end(lines: list[str]) -> int:
    """Index of the line that ends the signature starting ``lines`` (brackets balanced again).

    ``def f(\n    a,\n    b,\n) -> int:`` ends at its fourth line. A decorator line
    (``@app.get("/")``) is passed over; without any bracket the first line is the signature."""
    depth, opened = 0, False
    for i, line in enumerate(lines[:SIGNATURE_MAX_LINES]):
        if not opened and line.lstrip().startswith("@"):
            continue
        for ch in line:
            if ch in _OPENERS:
                depth, opened = depth + 1, True
            elif ch in _CLOSERS:
                depth = max(0, depth - 1)
        if opened and depth == 0:
            return i
    return 0 if not opened else min(len(lines), SIGNATURE_MAX_LINES) - 1


def snippet(code: str, lines: int = 3, width: int = 100) -> str:
    """The first non-blank lines of ``code``, each cut to ``width`` characters: at least ``lines``,
    and always the whole signature and the line after it, however many lines the signature spans."""
    kept = [line.rstrip() for line in code.splitlines() if line.strip()]
    count = max(lines, signature_end(kept) + 2)
    return "\n".join(line[:width] for line in kept[:count])


def _indent(text: str, prefix: str = "      ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def render_matches(matches: list[Match], *, kinds: list[FindingKind | None] | None = None) -> str:
    if not matches:
        return "no matches"
    out = []
    for rank, m in enumerate(matches, 1):
        t = m.target
        kind = kinds[rank - 1] if kinds else None
        label = f"  [{kind.value.replace('_', ' ')}]" if kind else ""
        out.append(f"{rank:>2}. {m.score:.3f}  {t.path}:{t.start_line}  {t.qualified_name}{label}")
        out.append(_indent(snippet(t.code)))
    return "\n".join(out)


def _finding_line(f: Finding) -> str:
    fn, t = f.function, f.target
    words = describe(f)
    lines = [
        f"  {fn.path}:{fn.start_line} {fn.qualified_name}",
        f"    ~ {t.path}:{t.start_line}-{t.end_line} {t.qualified_name}",
    ]
    lines += [
        _indent(textwrap.fill(part, 96), "      ") for part in (words.headline, words.detail, words.advice) if part
    ]
    return "\n".join(lines)


def render_review(result: ReviewResult, *, show_pre_existing: bool = False) -> str:
    titles = {
        FindingKind.DUPLICATE: "Near-duplicates (consider reusing the existing code)",
        FindingKind.INTRA_PR: "Copies within this change",
        FindingKind.RELATED: "Related code",
    }
    out = [
        f"doppel review {result.base[:12]}..{result.head[:12]}: "
        f"{len(result.changed)} changed function(s), {len(result.findings)} finding(s)"
    ]
    for kind, title in titles.items():
        found = [f for f in result.findings if f.kind is kind]
        if found:
            out.append(f"\n{title}:")
            out.extend(_finding_line(f) for f in found)
    if not result.findings:
        out.append("no near-duplicates or related code found")
    if show_pre_existing and result.pre_existing:
        n = len(result.pre_existing)
        out.append(
            f"\n{n} near-duplicate{'s' if n != 1 else ''} already in the base, not introduced by this change (not counted)."
        )
    return "\n".join(out)
