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
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.domain import Finding, FindingKind, Match
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
    p.add_argument("--format", choices=("text", "json"), default="text")
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
    p.add_argument("--format", choices=("text", "json"), default="text")
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
    s = stats.to_dict()
    print(
        f"indexed {repo.slug} at {commit[:12]}: {s['functions']} functions in {s['files_seen']} files "
        f"({s['embedded']} embedded, {s['cache_hits']} from cache, {s['deleted']} removed, "
        f"{s['files_skipped']} files skipped) in {s['seconds']:.1f}s"
    )
    return 0


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
        matches = services.reviewer.similar(
            source,
            repo,
            function=args.function,
            at=_parse_at(args.at) if args.at else None,
            query=args.query,
            commit=commit,
            limit=args.top_k,
            plan=_plan(args, services, source, commit),
        )
    if args.format == "json":
        print(json.dumps([{"score": round(m.score, 4), **m.target.to_payload()} for m in matches], indent=2))
    else:
        print(render_matches(matches))
    return 0


def run_review(args: argparse.Namespace) -> int:
    services, source, repo = _open(args)
    with services:
        base, head = source.resolve(args.base), source.resolve(args.head)
        _index_if_missing(args, services, source, repo, base)
        plan = _plan(args, services, source, base)
        result = services.reviewer.review(source, repo, base, head, plan=plan, explain=args.explain)
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(render_review(result, show_pre_existing=services.settings.report_pre_existing))
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    has_duplicates = any(f.kind is FindingKind.DUPLICATE for f in result.findings)
    return 3 if args.fail_on_duplicates and has_duplicates else 0


# --- text rendering (pure) -------------------------------------------------------------------


def snippet(code: str, lines: int = 3, width: int = 100) -> str:
    """The first non-blank lines of ``code``, each cut to ``width`` characters."""
    kept = [line.rstrip()[:width] for line in code.splitlines() if line.strip()][:lines]
    return "\n".join(kept)


def _indent(text: str, prefix: str = "      ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def render_matches(matches: list[Match]) -> str:
    if not matches:
        return "no matches"
    out = []
    for rank, m in enumerate(matches, 1):
        t = m.target
        out.append(f"{rank:>2}. {m.score:.3f}  {t.path}:{t.start_line}  {t.qualified_name}")
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
