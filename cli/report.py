"""``doppel report``: the repository-wide picture, clusters of near-duplicate functions.

Brings the repository's index up to the commit (the CLI is its one writer, as with ``doppel
index``), then has ``workers.services.dup_report`` search every function's neighbours and join the
duplicate pairs into clusters. Prints a summary (or the JSON form), and with ``--html DIR`` writes
``DIR/index.html``, one static page (``workers.services.dup_report_html``). Progress is counted in
functions searched: a live line on a terminal, periodic log lines elsewhere (``core.progress``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.errors import ConfigError

REPORT_FILE = "index.html"
JSON_FILE = "report.json"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "report",
        help="clusters of near-duplicate functions across the whole repository",
        description="Search every function's nearest neighbours in the repository's index, judge each pair with "
        "the review's verdict and join the near-duplicates into clusters, with totals per directory and language. "
        "--html DIR writes one static page (no network needed) with each cluster's members side by side.",
    )
    p.add_argument("path", nargs="?", default=".", type=Path, help="git repository (default: current directory)")
    p.add_argument("--repo", metavar="NAME", help="name of the repository's index (default: derived from PATH)")
    p.add_argument("--data-dir", type=Path, help="override DOPPEL_DATA_DIR for this run")
    p.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="a doppel.yml to use instead of the repository's .github/doppel.yml at the commit",
    )
    p.add_argument("--commit", default="HEAD", help="commit or ref to report on (default: HEAD)")
    p.add_argument("--html", metavar="DIR", type=Path, help=f"write the report to DIR/{REPORT_FILE} (and {JSON_FILE})")
    p.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="what to print: a summary with the largest clusters (text) or the whole report (json)",
    )
    p.add_argument("--top", type=int, default=10, help="clusters listed in the text summary (default 10)")
    p.add_argument(
        "--no-index",
        action="store_true",
        help="do not bring the index up to the commit first; search it as it is, with the differing files in memory",
    )
    p.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    from cli.review import _open, _plan
    from workers.services.dup_report import build_report
    from workers.services.dup_report_html import render_html

    if args.top < 0:
        raise ConfigError(f"--top must be 0 or more, got {args.top}")
    if args.html is not None and args.html.exists() and not args.html.is_dir():
        raise ConfigError(f"--html {args.html}: not a directory")
    services, source, repo = _open(args)
    with services:
        commit = source.resolve(args.commit)
        plan = _plan(args, services, source, commit)
        if not args.no_index:
            stats = services.indexer.update(source, repo, commit, plan=plan)
            if stats.mode != "noop":
                print(
                    f"doppel report: index of {repo.slug} brought to {commit[:12]} ({stats.functions} functions, "
                    f"{stats.embedded} embedded)",
                    file=sys.stderr,
                )
        report = build_report(
            services.reviewer,
            services.encoder,
            source,
            repo,
            commit,
            plan,
            name=args.repo or args.path.resolve().name,
        )
    data = report.to_dict()
    if args.html is not None:
        args.html.mkdir(parents=True, exist_ok=True)
        (args.html / REPORT_FILE).write_text(render_html(data), encoding="utf-8")
        (args.html / JSON_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if args.format == "json":
        print(json.dumps(data, indent=2))
    else:
        print(render_summary(data, top=args.top))
        if args.html is not None:
            print(f"report: {args.html / REPORT_FILE}")
    for warning in data["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def render_summary(data: dict[str, Any], *, top: int = 10) -> str:
    """The text summary: totals, the languages and the ``top`` largest clusters (pure)."""
    t = data["totals"]
    out = [
        f"doppel report {data['repo']} at {str(data['commit'])[:12]}: {t['clusters']} clusters, "
        f"{t['duplicated_functions']} of {t['functions']} functions, {t['duplicated_lines']} of {t['lines']} lines "
        f"({100 * t['share']:.1f}%) in a cluster"
    ]
    for language, lt in data["by_language"].items():
        out.append(
            f"  {language}: {lt['clusters']} clusters, {lt['duplicated_functions']}/{lt['functions']} functions, "
            f"{lt['duplicated_lines']}/{lt['lines']} lines ({100 * lt['share']:.1f}%)"
        )
    clusters = data["clusters"][:top]
    if clusters:
        out.append("\nLargest clusters:")
    for c in clusters:
        out.append(f"  #{c['id']}: {c['functions']} functions, {c['lines']} lines, best score {c['best_score']:.2f}")
        for m in c["members"]:
            out.append(f"      {m['path']}:{m['start_line']}-{m['end_line']} {m['qualified_name']}")
    if not data["clusters"]:
        out.append("no near-duplicate functions found")
    return "\n".join(out)
