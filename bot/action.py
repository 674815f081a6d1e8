"""The GitHub Action step: review a pull request on the runner and report where the token allows.

``python -m bot.action`` runs inside a ``pull_request`` workflow, in the checkout of the
repository (``actions/checkout`` with ``fetch-depth: 0``, so both the base and the head commit are
there). It runs the same review as the server (``workers.services.review`` through
``workers.services.wiring.build_services``) against the embedded index under the data directory
that ``actions/cache`` keeps between runs, so a cache hit embeds only what changed since. Then:

* it posts the findings as ONE review with inline comments and a sticky summary through the same
  publishing service as the GitHub App (``github_adapter.publish``);
* when the token may not write (a pull request from a fork runs with a read-only token, or
  GitHub answers 403) it prints workflow-command annotations instead (``bot.annotations``);
* it always writes a SARIF 2.1.0 file (``bot.sarif``) for ``github/codeql-action/upload-sarif``,
  a job summary (``bot.step_summary``) and the step outputs ``findings``, ``duplicates``,
  ``related``, ``intra-pr`` and ``sarif``;
* with input ``report-html`` it writes the repository-wide duplication report of the head
  (``workers.services.dup_report``, read-only on the index) for the artifact step (output ``report``).

The run's ``ReviewPlan`` comes from the inputs (settings) and the ``.github/doppel.yml`` committed
at the pull request's base (never its head, so a pull request cannot loosen its own review): its
``events`` decide whether this run reviews, its languages and ignore globs what is read, its
strictness and thresholds the verdict, its ``max_comments`` the inline comments (or warnings).

The step is the index's one writer on the runner. A ``push`` event brings the index up to the
pushed commit: a cheap way to keep the cache warm for the pull requests that follow. A pull
request run never moves an existing index: it lays the difference between the indexed commit and
its base over the search in memory; only when the cache holds no usable index does it build one
at the base. Exit status: 0; 1 when ``fail-on-duplicates`` is set and duplicates were found; 2
when the review could not run (the message says why).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

from bot.action_inputs import ActionInputs, from_process
from bot.annotations import MAX_WARNINGS_PER_STEP, escape_data, escape_property, plan_annotations
from bot.sarif import to_sarif
from bot.step_summary import Delivery, StepSummaryView, count_kinds, render_step_summary
from core.domain import Finding, FindingKind, PullRef, RepoRef
from core.errors import ConfigError, DoppelError, GitError
from core.settings import load_settings
from github_adapter.errors import GitHubError
from github_adapter.render import Links

log = logging.getLogger(__name__)

READ_ONLY_FORK = "pull request from a fork: the workflow's token is read-only"
FORBIDDEN = "the token may not write to this pull request (HTTP 403)"
NO_TOKEN = "no github-token given"


# --- pure helpers ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PullEvent:
    """What the Action needs from a ``pull_request`` (or ``pull_request_target``) event payload."""

    number: int
    action: str
    base_sha: str
    head_sha: str
    base_repo: str
    head_repo: str | None  # None when the fork was deleted

    @property
    def from_fork(self) -> bool:
        return self.head_repo != self.base_repo

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> PullEvent:
        pr = payload.get("pull_request")
        if not isinstance(pr, Mapping):
            raise ConfigError("the event has no 'pull_request': run the doppel Action on pull_request events")
        try:
            head_repo = (pr["head"].get("repo") or {}).get("full_name")
            return cls(
                number=int(pr["number"]),
                action=str(payload.get("action", "")),
                base_sha=str(pr["base"]["sha"]),
                head_sha=str(pr["head"]["sha"]),
                base_repo=str(pr["base"]["repo"]["full_name"]),
                head_repo=str(head_repo) if head_repo else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"the pull_request event payload lacks a field doppel needs: {exc}") from exc


def read_only_expected(event_name: str, pull: PullEvent) -> bool:
    """GitHub hands ``pull_request`` runs of fork pull requests a read-only token (and no secrets)."""
    return event_name == "pull_request" and pull.from_fork


def is_duplicate(finding: Finding) -> bool:
    return finding.kind in (FindingKind.DUPLICATE, FindingKind.INTRA_PR)


def output_lines(values: Mapping[str, object]) -> str:
    """``$GITHUB_OUTPUT`` text: ``name=value`` lines, the heredoc form for values with line breaks."""
    out = []
    for name, value in values.items():
        text = str(value)
        if "\n" in text or "\r" in text:
            delimiter = "doppel_EOF"
            while delimiter in text:
                delimiter += "_"
            out.append(f"{name}<<{delimiter}\n{text}\n{delimiter}")
        else:
            out.append(f"{name}={text}")
    return "\n".join(out) + "\n"


def index_note(stats: Mapping[str, Any] | None) -> str | None:
    """One line on how the base was searched (a review) or the index brought up (a push), which
    shows whether the cache helped."""
    if not stats:
        return None
    mode = stats.get("mode", "full")
    if mode in ("index", "overlay", "memory"):  # a review's view of the index (never a write)
        what = {
            "index": "index already at the base",
            "overlay": f"index at {str(stats.get('indexed_commit') or '')[:12]}, "
            f"{stats.get('overlay_files', 0)} files that differ at the base searched in memory",
            "memory": "no index yet: the base searched in memory",
        }[mode]
        return (
            f"{what}: {stats.get('overlay_functions', 0)} functions read from the base, "
            f"{stats.get('embedded', 0)} embedded, {stats.get('cache_hits', 0)} from the embedding cache, "
            f"{stats.get('seconds', 0)} s"
        )
    if mode == "noop" and stats.get("held") is not None:  # nothing to do: say what the index holds
        return f"index already at this commit: it holds {stats['held']} functions, nothing embedded"
    what = {"noop": "index already at the base", "update": "index updated", "full": "index built"}.get(mode, mode)
    return (
        f"{what}: {stats.get('functions', 0)} functions, {stats.get('embedded', 0)} embedded, "
        f"{stats.get('cache_hits', 0)} from the embedding cache, {stats.get('seconds', 0)} s"
    )


def resolve_adapter_dir(source: Path) -> Path:
    """The adapter directory in ``source``: itself, or the one folder inside it (an extracted artifact)."""
    if not source.is_dir():
        raise ConfigError(f"input 'adapter-source': {source} is not a directory of adapters")

    def holds_adapters(path: Path) -> bool:
        return any((child / "adapter_config.json").is_file() for child in path.iterdir() if child.is_dir())

    if holds_adapters(source):
        return source
    nested = [child for child in source.iterdir() if child.is_dir() and holds_adapters(child)]
    if len(nested) == 1:
        return nested[0]
    raise ConfigError(
        f"input 'adapter-source': no adapters in {source} (expected sub-directories such as python/ or "
        "shared/ holding adapter_config.json, directly or inside one artifact folder)"
    )


def tool_version() -> str:
    try:
        return metadata.version("doppel")
    except metadata.PackageNotFoundError:
        return "0.0.0"


# --- the step ---------------------------------------------------------------------------------------
class ActionRun:
    """One run of the step; ``main`` builds it from the environment."""

    def __init__(self, inputs: ActionInputs, *, stdout: TextIO) -> None:
        self.inputs = inputs
        self.stdout = stdout

    def run(self) -> int:
        try:
            payload = json.loads(self.inputs.event_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the event payload {self.inputs.event_path}: {exc}") from exc
        if "pull_request" not in payload:
            if self.inputs.event_name == "push" and payload.get("after"):
                return self._index_only(str(payload["after"]))
            self._say(f"::notice title=doppel::nothing to review for a {self.inputs.event_name} event")
            return 0
        pull = PullEvent.from_payload(payload)
        if pull.action == "closed":
            self._say("::notice title=doppel::the pull request is closed; nothing to review")
            return 0
        return self._review(pull)

    # --- review --------------------------------------------------------------------------------
    def _review(self, pull: PullEvent) -> int:
        from embedding.source import GitSource
        from workers.services.plan import config_at, resolve_plan
        from workers.services.wiring import build_services

        inputs = self.inputs
        settings = self._settings()
        repo = RepoRef(inputs.repository, None, inputs.repository_id)
        built: str | None = None
        with GitSource(inputs.workspace) as source:
            self._require_commits(source, pull)
            plan = resolve_plan(settings, config_at(source, pull.base_sha, label=f"{repo.slug}@base"))
            if not plan.triggers_on(pull.action):
                return self._not_configured(pull, plan.events)
            with build_services(settings, progress=False) as services:
                if not services.indexer.state(source, repo, plan=plan).usable:
                    # No usable index in the cache: build one at the base (this step is its one writer).
                    built = index_note(services.indexer.update(source, repo, pull.base_sha, plan=plan).to_dict())
                result = services.reviewer.review(source, repo, pull.base_sha, pull.head_sha, plan=plan)
                report = self._write_report(services, source, repo, pull.head_sha, plan)

        self._write_sarif(result.findings, result.head)
        delivery = self._deliver(result, pull, repo, plan.max_comments)
        duplicates = [f for f in result.findings if is_duplicate(f)]
        failing = inputs.fail_on_duplicates and bool(duplicates)
        links = Links(web_url=inputs.server_url, slug=repo.slug, base_sha=result.base, head_sha=result.head)
        view = StepSummaryView(
            slug=repo.slug,
            number=pull.number,
            base=result.base,
            head=result.head,
            changed=len(result.changed),
            findings=list(result.findings),
            delivery=delivery,
            sarif_path=str(inputs.sarif_path),
            warnings=list(result.warnings),
            index_note="; ".join(n for n in (built, index_note(result.stats.index)) if n) or None,
            failed_on_duplicates=failing,
        )
        self._append(inputs.step_summary, render_step_summary(view, links))
        counts = count_kinds(result.findings)
        self._append(
            inputs.output,
            output_lines(
                {
                    "findings": len(result.findings),
                    "duplicates": counts[FindingKind.DUPLICATE.value],
                    "intra-pr": counts[FindingKind.INTRA_PR.value],
                    "related": counts[FindingKind.RELATED.value],
                    "sarif": inputs.sarif_path,
                    "delivery": delivery.mode,
                    "report": report,
                }
            ),
        )
        if failing:
            self._say(
                f"::error title=doppel::{len(duplicates)} possible duplicate"
                f"{'s' if len(duplicates) != 1 else ''} found and fail-on-duplicates is set"
            )
            return 1
        return 0

    def _not_configured(self, pull: PullEvent, events: tuple[str, ...]) -> int:
        """The repository's ``events`` leave this pull request event out: say so and do nothing."""
        runs_on = ", ".join(events) or "no events"
        self._say(
            "::notice title=doppel::"
            + escape_data(f"not reviewed: .github/doppel.yml runs doppel on {runs_on}, not on {pull.action!r}")
        )
        self._append(self.inputs.output, output_lines({"findings": 0, "sarif": "", "delivery": "none"}))
        return 0

    def _deliver(self, result: Any, pull: PullEvent, repo: RepoRef, max_comments: int) -> Delivery:
        """Post one review when the token may; otherwise print annotations (as many warnings as
        the plan allows inline comments)."""
        inputs = self.inputs
        if not inputs.github_token:
            return self._annotate(result.findings, NO_TOKEN, max_comments)
        if read_only_expected(inputs.event_name, pull):
            return self._annotate(result.findings, READ_ONLY_FORK, max_comments)
        from github_adapter.client import GitHubClient
        from github_adapter.publish import PublishService

        client = GitHubClient.connect(inputs.github_token, api_url=inputs.api_url, web_url=inputs.server_url)
        try:
            publisher = PublishService(
                client, bot_login=inputs.bot_login, web_url=inputs.server_url, max_comments=max_comments
            )
            ref = PullRef(repo=repo, number=pull.number, head_sha=result.head, base_sha=result.base)
            outcome = publisher.publish(result, ref)
        except GitHubError as exc:
            if exc.status != 403:
                raise
            log.warning("action.publish_forbidden", extra={"repo": repo.slug, "pull": pull.number})
            return self._annotate(result.findings, FORBIDDEN, max_comments)
        finally:
            client.close()
        return Delivery(
            mode="review",
            inline_comments=len(outcome.posted),
            summary_action=outcome.summary_action,
            status=outcome.status,
        )

    def _annotate(self, findings: list[Finding], reason: str, max_comments: int) -> Delivery:
        plan = plan_annotations(findings, max_warnings=min(MAX_WARNINGS_PER_STEP, max_comments))
        for line in plan.lines():
            self._say(line)
        if plan.left_out:
            self._say(
                f"::notice title={escape_property('doppel')}::"
                + escape_data(f"{plan.left_out} more findings are listed in the job summary and the SARIF file.")
            )
        return Delivery(
            mode="annotations",
            reason=reason,
            annotations_shown=len(plan.shown),
            annotations_left_out=plan.left_out,
        )

    # --- push: keep the index warm ----------------------------------------------------------------
    def _index_only(self, commit: str) -> int:
        from embedding.source import GitSource
        from workers.services.plan import config_at, resolve_plan
        from workers.services.wiring import build_services

        repo = RepoRef(self.inputs.repository, None, self.inputs.repository_id)
        settings = self._settings()
        with GitSource(self.inputs.workspace) as source, build_services(settings, progress=False) as services:
            sha = source.resolve(commit)
            plan = resolve_plan(settings, config_at(source, sha, label=f"{repo.slug}@{sha[:12]}"))
            stats = services.indexer.ensure_indexed(source, repo, sha, plan=plan)
            report = self._write_report(services, source, repo, sha, plan)
        note = index_note(stats.to_dict())
        self._append(self.inputs.step_summary, f"## doppel\n\n{note}\n")
        self._append(self.inputs.output, output_lines({"findings": 0, "sarif": "", "report": report}))
        return 0

    # --- helpers ----------------------------------------------------------------------------------
    def _settings(self) -> Any:
        adapter_dir = resolve_adapter_dir(self.inputs.adapter_source) if self.inputs.adapter_source else None
        settings = load_settings(**self.inputs.settings_overrides(adapter_dir))
        return settings.model_copy(update={"strictness": self.inputs.strictness})

    @staticmethod
    def _require_commits(source: Any, pull: PullEvent) -> None:
        for label, sha in (("base", pull.base_sha), ("head", pull.head_sha)):
            try:
                source.resolve(sha)
            except GitError as exc:
                raise GitError(
                    f"the pull request's {label} commit {sha[:12]} is not in the checkout: check out with "
                    "actions/checkout and `fetch-depth: 0` before the doppel step"
                ) from exc

    def _write_report(self, services: Any, source: Any, repo: RepoRef, commit: str, plan: Any) -> str:
        """With input ``report-html``: the repository-wide duplication report at ``commit`` (the pull
        request's head) as ``report_dir/index.html``, for the upload-artifact step; returns the
        directory, or "" when not asked for or when it failed (the review still counts)."""
        if not self.inputs.report_html:
            return ""
        from workers.services.dup_report import build_report
        from workers.services.dup_report_html import render_html

        try:
            report = build_report(services.reviewer, services.encoder, source, repo, commit, plan, progress=False)
        except DoppelError as exc:
            self._say("::warning title=doppel::" + escape_data(f"no duplication report: {exc}"))
            return ""
        directory = self.inputs.report_dir
        directory.mkdir(parents=True, exist_ok=True)
        data = report.to_dict()
        (directory / "index.html").write_text(render_html(data), encoding="utf-8")
        (directory / "report.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        totals = data["totals"]
        self._say(
            f"doppel: duplication report at {commit[:12]}: {totals['clusters']} clusters, "
            f"{totals['duplicated_lines']} of {totals['lines']} function lines in {directory / 'index.html'}"
        )
        return str(directory)

    def _write_sarif(self, findings: list[Finding], head: str) -> None:
        path = self.inputs.sarif_path
        path.parent.mkdir(parents=True, exist_ok=True)
        sarif_log = to_sarif(findings, tool_version=tool_version(), head_sha=head)
        path.write_text(json.dumps(sarif_log, indent=2) + "\n", encoding="utf-8")

    @staticmethod
    def _append(path: Path | None, text: str) -> None:
        """Append to a runner file (``$GITHUB_STEP_SUMMARY``, ``$GITHUB_OUTPUT``); other steps write there too."""
        if path is None:
            return
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)

    def _say(self, line: str) -> None:
        self.stdout.write(line + "\n")
        self.stdout.flush()


def main(environ: Mapping[str, str] | None = None, *, stdout: TextIO | None = None) -> int:
    """Run the step; ``environ`` defaults to the process environment (tests pass their own)."""
    out = stdout or sys.stdout
    try:
        inputs = ActionInputs.from_env(environ) if environ is not None else from_process()
        return ActionRun(inputs, stdout=out).run()
    except DoppelError as exc:
        out.write(f"::error title=doppel::{escape_data(str(exc))}\n")
        out.flush()
        return 2
    except Exception as exc:  # the step's edge: a bug must still end as "could not run", not as "duplicates"
        log.exception("action.crashed")
        out.write(f"::error title=doppel::unexpected {type(exc).__name__}: {escape_data(str(exc))}\n")
        out.flush()
        return 2


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(main())
