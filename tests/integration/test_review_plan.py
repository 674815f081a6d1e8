"""One review plan per job: every key of ``.github/doppel.yml`` changes what the review does,
through the bot (the real flow and production runtime against the fake GitHub), the Action
(``bot.action.main``) and the CLI (``doppel review``); and the cap on functions per review.

The repository's base has ``order_total`` (Python), ``parse_duration`` and a Go ``Reverse``; the
pull request adds a renamed near-copy of ``order_total`` (``shop/invoices.py``) and exact copies
of the others in a test file, a script and a Go file. Without a file all four are near-duplicates;
each key takes away exactly the one it should. The hashing encoder stands in for the model, and
the verdict's cut-offs are set around the near-copy's own score (measured once, below), so that
``strictness: lenient`` and ``thresholds`` can move it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.domain import RepoRef
from core.settings import Settings
from embedding.source import GitSource
from tests.conftest_bot import TEST_REDIS_URL
from tests.factories import blend_verdict_file, commit, make_repo
from tests.fakes.github import FakeGitHub, FakeGitHubServer
from tests.fakes.hash_encoder import HashEncoder
from tests.fakes.memory_index import MemoryIndex
from tests.samples import ORDER_TOTAL, ORDER_TOTAL_NEAR_COPY, PARSE_DURATION, SLUGIFY
from workers.services.indexing import IndexService
from workers.services.repo_config import CONFIG_PATH
from workers.services.review import ReviewService

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning"),
]

SLUG = "acme/shop"
BOT_LOGIN = "doppel[bot]"
TOKEN = "ghp_review_plan_token"

DURATION = PARSE_DURATION
REVERSE_GO = """\
func Reverse(s string) string {
\trunes := []rune(s)
\tfor i, j := 0, len(runes)-1; i < j; i, j = i+1, j-1 {
\t\trunes[i], runes[j] = runes[j], runes[i]
\t}
\treturn string(runes)
}
"""
NEAR_COPY = ORDER_TOTAL_NEAR_COPY
BASE = {
    "shop/billing.py": ORDER_TOTAL + "\n\n" + SLUGIFY,
    "shop/time.py": DURATION,
    "lib/text.go": "package text\n\n" + REVERSE_GO,
    "README.md": "# shop\n",
}
PULL = {
    "shop/invoices.py": NEAR_COPY,
    "tests/test_more.py": SLUGIFY,
    "scripts/tool.py": DURATION,
    "lib/strings.go": "package strings\n\n" + REVERSE_GO,
}
ALL = frozenset(PULL)

# Each key, a file that sets it, and the near-duplicates that remain.
CASES: dict[str, tuple[str, frozenset[str]]] = {
    "languages": ("languages: [python]\n", ALL - {"lib/strings.go"}),
    "ignore": ('ignore: ["scripts/**"]\n', ALL - {"scripts/tool.py"}),
    "ignore_tests": ("ignore_tests: true\n", ALL - {"tests/test_more.py"}),
    "strictness": ("strictness: lenient\n", ALL - {"shop/invoices.py"}),
    "thresholds": ("thresholds: {duplicate: 0.99}\n", ALL - {"shop/invoices.py"}),
}


# --- the verdict, set around the near-copy's score -------------------------------------------------
@pytest.fixture(scope="module")
def verdict_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A linear verdict whose duplicate cut-off lies just below the near-copy's score: the default
    flags it, ``lenient`` (+0.09) and ``thresholds: {duplicate: 0.99}`` do not."""
    root = tmp_path_factory.mktemp("calibrate")
    repo = make_repo(root, BASE)
    repo.git.checkout("-q", "-b", "feature")
    commit(repo, PULL, "pull request")
    probe = Settings(data_dir=root / "data", verdict_path=blend_verdict_file(root / "probe", duplicate=0.999,
                     related=-1.0, lexical_weight=0.5))  # fmt: skip
    encoder, index = HashEncoder(dim=256), MemoryIndex()
    service = ReviewService(probe, encoder, index, IndexService(probe, encoder, index, progress=False))
    result = service.review(GitSource(Path(repo.working_tree_dir or "")), RepoRef(SLUG), "main", "HEAD", explain=True)
    (score,) = [
        c["score"]
        for c in result.candidates
        if c["function"]["path"] == "shop/invoices.py" and c["target"]["qualified_name"] == "order_total"
    ]
    assert 0.3 < score < 0.95, score
    return blend_verdict_file(root / "pinned", duplicate=round(score - 0.03, 4), related=round(score - 0.3, 4),
                              lexical_weight=0.5)  # fmt: skip


@pytest.fixture(scope="module")
def hash_encoder() -> Iterator[HashEncoder]:
    """Every ``Encoder.from_settings`` of this module (Action, CLI, workers) gets one hashing encoder."""
    from embedding.encoder import Encoder

    encoder = HashEncoder(dim=256)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Encoder, "from_settings", classmethod(lambda cls, settings: encoder))
        yield encoder


def _change(root: Path, config: str | None) -> dict[str, Any]:
    """A repository whose base commits ``config`` as .github/doppel.yml, and the pull request on it."""
    repo = make_repo(root, BASE)
    if config is not None:
        commit(repo, {CONFIG_PATH: config}, "configure doppel")
    base = repo.head.commit.hexsha
    repo.git.checkout("-q", "-b", "feature")
    head = commit(repo, PULL, "pull request")
    return {"repo": repo, "root": Path(repo.working_tree_dir or ""), "base": base, "head": head}


# --- the CLI ---------------------------------------------------------------------------------------
def _cli(change: dict[str, Any], data: Path, *extra: str) -> tuple[int, dict[str, Any] | None, str]:
    from cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["review", str(change["root"]), "--base", change["base"], "--head", change["head"],
                       "--format", "json", "--data-dir", str(data), *extra])  # fmt: skip
    text = out.getvalue()
    return status, (json.loads(text) if text.strip() else None), err.getvalue()


def _duplicates(result: dict[str, Any]) -> frozenset[str]:
    return frozenset(f["function"]["path"] for f in result["findings"] if f["kind"] == "duplicate")


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, verdict_file: Path, hash_encoder: HashEncoder) -> None:
    for name in list(os.environ):
        if name.startswith("DOPPEL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DOPPEL_VERDICT_PATH", str(verdict_file))


@pytest.mark.usefixtures("cli_env")
def test_cli_without_a_file_flags_all_four(tmp_path: Path) -> None:
    status, result, _ = _cli(_change(tmp_path, None), tmp_path / "data")
    assert status == 0 and result is not None
    assert _duplicates(result) == ALL
    assert result["plan"]["source"] == "defaults"


@pytest.mark.usefixtures("cli_env")
@pytest.mark.parametrize("key", sorted(CASES))
def test_cli_each_key_of_the_base_commits_file_changes_the_review(key: str, tmp_path: Path) -> None:
    text, expected = CASES[key]
    status, result, _ = _cli(_change(tmp_path, text), tmp_path / "data")
    assert status == 0 and result is not None
    assert _duplicates(result) == expected
    assert result["plan"]["source"].endswith(CONFIG_PATH)


@pytest.mark.usefixtures("cli_env")
def test_cli_config_file_replaces_the_repositorys_and_reports_comments_and_events(tmp_path: Path) -> None:
    change = _change(tmp_path, "ignore_tests: true\n")
    given = tmp_path / "doppel.yml"
    given.write_text("languages: [go]\nmax_comments: 3\nevents: [opened]\n")
    status, result, _ = _cli(change, tmp_path / "data", "--config", str(given))
    assert status == 0 and result is not None
    assert _duplicates(result) == {"lib/strings.go"}  # its languages, not the committed ignore_tests
    assert (result["plan"]["max_comments"], result["plan"]["events"]) == (3, ["opened"])
    assert result["plan"]["source"] == str(given)


@pytest.mark.usefixtures("cli_env")
def test_cli_refuses_a_bad_config_file_and_falls_back_on_a_bad_committed_one(tmp_path: Path) -> None:
    change = _change(tmp_path, "strictness: brutal\n")
    status, result, _ = _cli(change, tmp_path / "data")
    assert status == 0 and result is not None
    assert _duplicates(result) == ALL  # the defaults
    assert result["plan"]["problem"] and "strictness" in result["plan"]["problem"]
    assert any("strictness" in w and "defaults" in w for w in result["warnings"])

    bad = tmp_path / "bad.yml"
    bad.write_text("max_comments: many\n")
    status, result, err = _cli(change, tmp_path / "data", "--config", str(bad))
    assert status == 1 and result is None and "max_comments" in err


# --- the Action ------------------------------------------------------------------------------------
def _pull_event(change: dict[str, Any], tmp_path: Path, action: str = "opened") -> Path:
    owner, name = SLUG.split("/")
    repo = {"full_name": SLUG, "name": name, "owner": {"login": owner}}
    payload = {
        "action": action,
        "number": 5,
        "pull_request": {
            "number": 5,
            "base": {"sha": change["base"], "ref": "main", "repo": repo},
            "head": {"sha": change["head"], "ref": "feature", "repo": repo},
        },
        "repository": repo,
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return path


def _fake_for(change: dict[str, Any]) -> FakeGitHub:
    state = FakeGitHub(web_url="https://github.example.test")
    state.add_token(TOKEN, "github-actions[bot]", "Bot")
    state.add_repo(SLUG)
    state.add_pull(SLUG, 5, head_sha=change["head"], base_sha=change["base"], files=_files(change))
    return state


def _files(change: dict[str, Any]) -> list[Any]:
    from tests.fakes.github import FakeFile

    repo, files = change["repo"], []
    for path in PULL:
        diff = repo.git.diff(f"{change['base']}...{change['head']}", "--", path)
        files.append(FakeFile(path, diff[diff.index("@@") :], status="added"))
    return files


def _action(change: dict[str, Any], tmp_path: Path, verdict: Path, action: str = "opened") -> dict[str, Any]:
    from bot.action import main

    state = _fake_for(change)
    with FakeGitHubServer(state) as server:
        environ = {
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(_pull_event(change, tmp_path, action)),
            "GITHUB_REPOSITORY": SLUG,
            "GITHUB_WORKSPACE": str(change["root"]),
            "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
            "GITHUB_API_URL": server.api_url,
            "GITHUB_SERVER_URL": "https://github.example.test",
            "RUNNER_TEMP": str(tmp_path),
            "INPUT_GITHUB_TOKEN": TOKEN,
            "INPUT_DATA_DIR": str(tmp_path / "doppel-data"),
        }
        stdout = io.StringIO()
        status = main(environ, stdout=stdout)
        exchanges = list(server.exchanges)
    sarif_path = tmp_path / "doppel.sarif"
    results = json.loads(sarif_path.read_text())["runs"][0]["results"] if sarif_path.is_file() else []
    return {
        "status": status,
        "stdout": stdout.getvalue(),
        "exchanges": exchanges,
        "inline": [c["path"] for c in state.comments_on(SLUG, 5)],
        "duplicates": frozenset(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in results
            if r["ruleId"] == "doppel/near-duplicate"
        ),
    }


@pytest.fixture
def action_env(monkeypatch: pytest.MonkeyPatch, verdict_file: Path, hash_encoder: HashEncoder) -> Path:
    for name in list(os.environ):
        if name.startswith("DOPPEL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DOPPEL_VERDICT_PATH", str(verdict_file))
    return verdict_file


def test_action_without_a_file_posts_all_four(tmp_path: Path, action_env: Path) -> None:
    ran = _action(_change(tmp_path / "repo", None), tmp_path, action_env)
    assert ran["status"] == 0, ran["stdout"]
    assert ran["duplicates"] == ALL and sorted(ran["inline"]) == sorted(ALL)


@pytest.mark.parametrize("key", sorted(CASES))
def test_action_each_key_of_the_base_commits_file_changes_the_review(
    key: str, tmp_path: Path, action_env: Path
) -> None:
    text, expected = CASES[key]
    ran = _action(_change(tmp_path / "repo", text), tmp_path, action_env)
    assert ran["status"] == 0, ran["stdout"]
    assert ran["duplicates"] == expected
    assert sorted(ran["inline"]) == sorted(expected)


def test_action_max_comments_caps_the_inline_comments(tmp_path: Path, action_env: Path) -> None:
    ran = _action(_change(tmp_path / "repo", "max_comments: 1\n"), tmp_path, action_env)
    assert ran["status"] == 0, ran["stdout"]
    assert ran["duplicates"] == ALL and len(ran["inline"]) == 1


def test_action_events_leave_out_a_synchronize_run(tmp_path: Path, action_env: Path) -> None:
    change = _change(tmp_path / "repo", "events: [opened]\n")
    ran = _action(change, tmp_path, action_env, action="synchronize")
    assert ran["status"] == 0 and ran["exchanges"] == [] and ran["inline"] == []
    assert "not on 'synchronize'" in ran["stdout"]
    assert _action(change, tmp_path, action_env, action="opened")["duplicates"] == ALL


# --- the bot ---------------------------------------------------------------------------------------
class _Bot:
    """The production runtime in this process: the fake GitHub (token mode), clones of a bare
    repository through ``RepoCache``, Redis database 15, the hashing encoder and Qdrant Edge."""

    def __init__(self, root: Path, verdict: Path) -> None:
        from tests.e2e.harness import GitRemote
        from workers.tasks.production import ProductionRuntime

        self.state = FakeGitHub(web_url=(root / "remotes").as_uri())
        self.state.add_token(TOKEN, BOT_LOGIN, "Bot")
        self.state.add_repo(SLUG, permissions={"alice": "write"})
        self.server = FakeGitHubServer(self.state).start()
        self.remote = GitRemote(root / "work", root / "remotes", SLUG, BASE)
        self.settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=root / "data",
            repos_dir=root / "clones",
            redis_url=TEST_REDIS_URL,
            github_token=TOKEN,
            github_api_url=self.server.api_url,
            github_web_url=(root / "remotes").as_uri(),
            bot_login=BOT_LOGIN,
            verdict_path=verdict,
        )
        self.rt = ProductionRuntime(self.settings)
        self.numbers = iter(range(1, 1000))

    def configure(self, text: str | None) -> None:
        contents = self.state.repos[SLUG].contents
        contents.pop(("main", CONFIG_PATH), None)
        if text is not None:
            contents[("main", CONFIG_PATH)] = text.encode()

    def open_pull(self, files: dict[str, str] = PULL) -> tuple[int, str]:
        number = next(self.numbers)
        self.remote.open_branch(number)
        head = self.remote.push_pull(number, files, f"pull request {number}")
        base = self.remote.main
        self.state.add_pull(SLUG, number, head_sha=head, base_sha=base, files=self.remote.pull_files(base, head))
        return number, head

    def review(self, number: int, head: str, action: str | None = "opened") -> str:
        from workers.jobs import ReviewJob
        from workers.services import flows

        job = ReviewJob(installation_id=None, repo=SLUG, pr_number=number, head_sha=head, action=action)
        return flows.review_pull_request(self.rt, job, token=f"t{number}")

    def inline(self, number: int) -> list[str]:
        return [c["path"] for c in self.state.comments_on(SLUG, number) if c["in_reply_to"] is None]

    def summary(self, number: int) -> str:
        return "\n".join(c["body"] for c in self.state.issue_comments_on(SLUG, number) if c["login"] == BOT_LOGIN)

    def close(self) -> None:
        if self.rt._services is not None:
            self.rt._services.close()
        self.server.stop()


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory, verdict_file: Path, hash_encoder: HashEncoder) -> Iterator[_Bot]:
    import redis

    from workers.jobs import IndexJob
    from workers.services import flows

    client = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {TEST_REDIS_URL} is not reachable ({exc})")
    client.flushdb()
    running = _Bot(tmp_path_factory.mktemp("bot"), verdict_file)
    try:
        stats = flows.index_repository(running.rt, IndexJob(installation_id=None, repo=SLUG))
        assert stats["commit"] == running.remote.main and stats["functions"] > 0
        yield running
    finally:
        running.close()
        client.flushdb()
        client.close()


def test_bot_without_a_file_comments_on_all_four(bot: _Bot) -> None:
    bot.configure(None)
    number, head = bot.open_pull()
    assert bot.review(number, head) == "posted"
    assert sorted(bot.inline(number)) == sorted(ALL)


@pytest.mark.parametrize("key", sorted(CASES))
def test_bot_each_key_of_the_default_branchs_file_changes_the_review(key: str, bot: _Bot) -> None:
    text, expected = CASES[key]
    bot.configure(text)
    number, head = bot.open_pull()
    assert bot.review(number, head) == "posted"
    assert sorted(bot.inline(number)) == sorted(expected)


def test_bot_max_comments_caps_the_inline_comments_and_the_summary_lists_the_rest(bot: _Bot) -> None:
    bot.configure("max_comments: 1\n")
    number, head = bot.open_pull()
    assert bot.review(number, head) == "posted"
    assert len(bot.inline(number)) == 1
    summary = bot.summary(number)
    assert all(path in summary for path in ALL)


def test_bot_events_decide_which_pull_request_events_review(bot: _Bot) -> None:
    bot.configure("events: [opened]\n")
    number, head = bot.open_pull()
    assert bot.review(number, head, action="synchronize") == "not_configured"
    assert bot.inline(number) == [] and bot.summary(number) == ""
    assert bot.review(number, head, action="opened") == "posted"


def _config_command(number: int, comment_id: int) -> Any:
    from core.commands import Command, CommandKind
    from workers.jobs import CommandJob

    return CommandJob(
        installation_id=None, repo=SLUG, pr_number=number, comment_id=comment_id,
        command=Command(CommandKind.CONFIG), review_comment=False,
    )  # fmt: skip


def test_bot_a_bad_file_is_named_in_the_config_reply_and_the_review_uses_the_defaults(bot: _Bot) -> None:
    from workers.services import flows

    bot.configure("languages: [python]\nmax_comments: many\n")
    number, head = bot.open_pull()
    assert bot.review(number, head) == "posted"
    assert sorted(bot.inline(number)) == sorted(ALL)  # the defaults: Go is reviewed too
    assert "max_comments" in bot.summary(number)  # the review's warnings say what was wrong

    comment = bot.state.add_issue_comment(SLUG, number, "alice", "/similar config")
    flows.reply_command(bot.rt, _config_command(number, comment["id"]))
    (reply,) = [c for c in bot.state.issue_comments_on(SLUG, number) if "doppel configuration" in c["body"]]
    assert "could not be used" in reply["body"] and "max_comments" in reply["body"]
    assert "| Languages | all supported |" in reply["body"]


def test_bot_config_reply_shows_the_plan_in_force(bot: _Bot) -> None:
    from workers.services import flows

    bot.configure("languages: [go]\nstrictness: strict\nmax_comments: 4\nevents: [opened, reopened]\n")
    number, _ = bot.open_pull({"shop/other.py": DURATION.replace("parse_duration", "other")})
    comment = bot.state.add_issue_comment(SLUG, number, "alice", "/similar config")
    flows.reply_command(bot.rt, _config_command(number, comment["id"]))
    (reply,) = [c for c in bot.state.issue_comments_on(SLUG, number) if "doppel configuration" in c["body"]]
    for row in ("| Languages | go |", "| Strictness | strict |", "| Inline comments at most | 4 |",
                "| Runs on | opened, reopened |"):  # fmt: skip
        assert row in reply["body"]


def test_bot_caps_the_functions_one_review_covers_and_the_summary_says_so(
    bot: _Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot.configure(None)
    monkeypatch.setattr(bot.rt, "settings", bot.settings.model_copy(update={"review_max_functions": 2}))
    number, head = bot.open_pull()
    assert bot.review(number, head) == "posted"
    assert sorted(bot.inline(number)) == ["lib/strings.go", "scripts/tool.py"]  # the first two by path
    assert "2 more changed functions were not reviewed" in bot.summary(number)
