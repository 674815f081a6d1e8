"""The index belongs to the default branch, end to end: signed webhooks, the real queue, a real
worker with the production runtime, real git, MiniLM and Qdrant Edge (see ``harness``).

``acme/ledger`` is installed at ``M1`` (which has ``shop/old.py``), then a push moves main to
``M2`` (``shop/old.py`` deleted, ``shop/new.py`` added) and the push's index job brings the index
there. Then, with the index's points and commit recorded:

* two pull requests, one on ``M1`` and one on ``M2``, are reviewed at the same time (the worker
  runs two tasks side by side, and records when each starts and ends); each copies both
  functions, so each must be judged against its own base (``parse_duration`` is a duplicate for
  the PR on ``M1`` only, ``median_of`` for the PR on ``M2`` only), and neither may re-index;
* a ``/similar`` on a fork's pull request names the fork's own function; a later, unrelated
  search never returns it.

Afterwards the index holds exactly what it held before: the same points, at ``M2``. The Edge
shard is locked to the process that opened it, so the index is read with the worker stopped.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from core.settings import Settings
from github_adapter.render import SIMILAR_MARKER, find_fingerprints
from tests.e2e.conftest import DUPLICATE_THRESHOLD, RELATED_THRESHOLD
from tests.e2e.harness import (
    BOT,
    REDIS_URL,
    USER,
    World,
    _repository,
    installation_payload,
    issue_comment_payload,
    open_world,
    pull_payload,
    redis_reachable,
)
from tests.factories import commit

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SLUG = "acme/ledger"
INSTALLATION = 7
SPANS = "e2e:task_spans"  # the worker's record of task starts and ends, in the order they happened


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The ``conftest`` world with a worker that runs two tasks side by side (threads; the Edge
    shard is locked to one process, so not two processes), whose visibility timeout outlasts a
    review so that nothing is handed out twice."""
    problem = redis_reachable(REDIS_URL)
    if problem is not None:
        pytest.skip(f"Redis at {REDIS_URL} is not reachable ({problem}); start redis-server to run the e2e tests")
    with open_world(
        tmp_path_factory.mktemp("e2e-ownership"),
        pool="threads",
        concurrency=2,
        worker_env={"E2E_TASK_SPANS": SPANS, "E2E_VISIBILITY_TIMEOUT_S": "900"},
        duplicate_threshold=DUPLICATE_THRESHOLD,
        related_threshold=RELATED_THRESHOLD,
    ) as running:
        yield running


def _spans(task_ids: list[str], *, wait_s: float = 60.0) -> list[str]:
    """``start``/``end`` of each of ``task_ids``, in the order the worker recorded them, once every
    task's end is recorded (or ``wait_s`` has passed). Celery stores a task's result before its
    ``task_postrun`` signal records the end, so a result can be seen before its end span is."""
    import time

    import redis

    client = redis.Redis.from_url(REDIS_URL)
    deadline = time.monotonic() + wait_s
    try:
        while True:
            events = [raw.decode().split() for raw in client.lrange(SPANS, 0, -1)]
            spans = [f"{what} {task_ids.index(task_id)}" for what, _, task_id in events if task_id in task_ids]
            if sum(span.startswith("end ") for span in spans) >= len(task_ids) or time.monotonic() > deadline:
                return spans
            time.sleep(0.1)
    finally:
        client.close()


OLD_ONLY = textwrap.dedent(
    """\
    def parse_duration(text):
        \"\"\"Seconds in a duration such as 1h30m.\"\"\"
        units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
        total, number = 0, ""
        for ch in text.strip():
            if ch.isdigit():
                number += ch
            elif ch in units and number:
                total += int(number) * units[ch]
                number = ""
            else:
                raise ValueError(f"bad duration {text!r}")
        return total
    """
)
NEW_ONLY = textwrap.dedent(
    """\
    def median_of(values):
        \"\"\"The median of a list of numbers.\"\"\"
        ordered = sorted(values)
        if not ordered:
            raise ValueError("no values")
        middle = len(ordered) // 2
        if len(ordered) % 2:
            return ordered[middle]
        return (ordered[middle - 1] + ordered[middle]) / 2
    """
)
FORK_ONLY = textwrap.dedent(
    """\
    def exfiltrate_tokens(environ, sink):
        \"\"\"Send every token-looking variable somewhere else.\"\"\"
        stolen = {}
        for name, value in environ.items():
            if "TOKEN" in name or "SECRET" in name:
                stolen[name] = value
        sink.send(stolen)
        return len(stolen)
    """
)
FILES = {
    "shop/old.py": OLD_ONLY,
    "shop/money.py": textwrap.dedent(
        """\
        def add_tax(amount, rate):
            taxed = amount * (1 + rate)
            return round(taxed, 2)


        def split_evenly(total, people):
            share = round(total / people, 2)
            return [share] * people
        """
    ),
}
UNRELATED_QUERY = "send environment secrets and tokens to a remote sink"


@dataclass
class Snapshot:
    """What a reader must leave as it was: the collections, each one's meta, count and functions."""

    collections: list[str]
    meta: dict[str, Any]
    count: int
    functions: list[tuple[str, str, int, str]]


def _snapshot(world: World, paths: list[str]) -> Snapshot:
    """The index as it is, read with the worker stopped (an Edge shard has one process); restarts it."""
    from embedding.index import open_index

    world.workers.stop()
    try:
        settings = Settings(_env_file=None, data_dir=world.root / "data")  # type: ignore[call-arg]
        with open_index(settings) as index:
            (name,) = index.list_collections()
            functions = sorted(
                (f.path, f.qualified_name, f.start_line, f.commit)
                for p in paths
                for f in index.functions_in_path(name, p)
            )
            return Snapshot(index.list_collections(), index.get_meta(name), index.count(name), functions)
    finally:
        world.workers.start()


def _received(world: World, task: str) -> int:
    """How often the workers started since this module began were handed ``task``."""
    return sum(log.read_text(errors="replace").count(f"Task {task}[") for log in world.workers.started)


@pytest.fixture(scope="module")
def indexed(world: World) -> dict[str, Any]:
    """Installed at M1, then main pushed to M2 and indexed there by the push's job."""
    from workers.tasks import names

    remote = world.add_repository(SLUG, INSTALLATION, FILES)
    m1 = remote.main
    (task,) = world.hooks.deliver("installation", installation_payload(INSTALLATION, [SLUG]))
    assert world.result(task, timeout=300)["commit"] == m1

    remote.work.git.checkout("-q", "main")
    m2 = commit(remote.work, {"shop/new.py": NEW_ONLY}, "replace old.py by new.py", delete=["shop/old.py"])
    remote.work.git.push("-q", "github", "main")
    push = {
        "ref": "refs/heads/main",
        "before": m1,
        "after": m2,
        "deleted": False,
        "repository": _repository(SLUG),
        "installation": {"id": INSTALLATION},
        "sender": {"login": USER, "type": "User"},
    }
    (task,) = world.hooks.deliver("push", push)
    stats = world.result(task, timeout=300)
    assert (stats["commit"], stats["mode"]) == (m2, "update")
    paths = ["shop/old.py", "shop/new.py", "shop/money.py", "shop/a.py", "shop/a2.py", "shop/b.py", "shop/b2.py",
             "fork/tools.py"]  # fmt: skip
    before = _snapshot(world, paths)
    assert before.meta["commit"] == m2 and before.count > 0
    index_jobs = _received(world, names.INDEX_REPOSITORY) + _received(world, names.INDEX_PUSH)
    return {"m1": m1, "m2": m2, "paths": paths, "before": before, "index_jobs": index_jobs}


def _open_pull(world: World, number: int, base: str, files: dict[str, str]) -> tuple[str, str]:
    remote = world.remotes[SLUG]
    remote.work.git.checkout("-q", "-B", f"pr-{number}", base)
    head = remote.push_pull(number, files, f"pull request {number}")
    world.state.add_pull(SLUG, number, head_sha=head, base_sha=base, files=remote.pull_files(base, head), author=USER)
    return base, head


def _bot_comments(world: World, number: int) -> list[dict[str, Any]]:
    return [
        c
        for c in world.state.comments_on(SLUG, number)
        if c["login"] == BOT and c["in_reply_to"] is None and find_fingerprints(c["body"])
    ]


@pytest.fixture(scope="module")
def reviewed(world: World, indexed: dict[str, Any]) -> dict[int, tuple[str, str]]:
    """A pull request on M1 and one on M2, both copying both functions, delivered together."""
    copies = {"shop/a.py": OLD_ONLY, "shop/a2.py": NEW_ONLY}
    pulls = {
        1: _open_pull(world, 1, indexed["m1"], copies),
        2: _open_pull(world, 2, indexed["m2"], {"shop/b.py": NEW_ONLY, "shop/b2.py": OLD_ONLY}),
    }
    tasks = []
    for number, (base, head) in pulls.items():
        (task,) = world.hooks.deliver("pull_request", pull_payload("opened", INSTALLATION, SLUG, number, head, base))
        tasks.append(task)
    assert [world.result(task, timeout=300) for task in tasks] == ["posted", "posted"]
    # Concurrently: each review started before the other one ended.
    spans = _spans([task.id for task in tasks])
    assert sorted(spans[:2]) == ["start 0", "start 1"] and sorted(spans[2:]) == ["end 0", "end 1"], spans
    return pulls


def test_two_pull_requests_on_different_bases_are_each_judged_against_their_own_base(
    world: World, reviewed: dict[int, tuple[str, str]]
) -> None:
    on_m1 = [(c["path"], "shop/old.py" in c["body"]) for c in _bot_comments(world, 1)]
    on_m2 = [(c["path"], "shop/new.py" in c["body"]) for c in _bot_comments(world, 2)]
    assert on_m1 == [("shop/a.py", True)]  # parse_duration exists at M1 only: a copy for this PR alone
    assert on_m2 == [("shop/b.py", True)]  # median_of exists at M2 only


def test_similar_on_a_fork_pull_request_finds_the_forks_function_but_never_indexes_it(
    world: World, indexed: dict[str, Any], reviewed: dict[int, tuple[str, str]]
) -> None:
    _open_pull(world, 3, indexed["m2"], {"fork/tools.py": FORK_ONLY})
    world.state.repos[SLUG].pulls[3].author = "mallory"  # a fork's author; alice (write access) asks
    command = world.state.add_issue_comment(SLUG, 3, USER, "/similar fork/tools.py:exfiltrate_tokens")
    (task,) = world.hooks.deliver("issue_comment", issue_comment_payload(INSTALLATION, SLUG, 3, command))
    assert world.result(task, timeout=300) == "function"
    (answer,) = [c for c in world.state.issue_comments_on(SLUG, 3) if SIMILAR_MARKER in c["body"]]
    assert "| # | Function |" in answer["body"]

    # An unrelated search afterwards, on another pull request: the fork's code is not there.
    command = world.state.add_issue_comment(SLUG, 2, USER, f'/similar "{UNRELATED_QUERY}"')
    (task,) = world.hooks.deliver("issue_comment", issue_comment_payload(INSTALLATION, SLUG, 2, command))
    assert world.result(task, timeout=300) == "query"
    (search,) = [c for c in world.state.issue_comments_on(SLUG, 2) if SIMILAR_MARKER in c["body"]]
    assert "shop/" in search["body"] and "fork/tools.py" not in search["body"]
    assert "exfiltrate_tokens" not in search["body"]


def test_reviews_and_searches_left_the_default_branch_index_as_it_was(
    world: World, indexed: dict[str, Any], reviewed: dict[int, tuple[str, str]]
) -> None:
    from workers.tasks import names

    # No index job ran after the push's: reviews and searches never asked for one.
    assert _received(world, names.INDEX_REPOSITORY) + _received(world, names.INDEX_PUSH) == indexed["index_jobs"]
    after = _snapshot(world, indexed["paths"])
    assert after == indexed["before"]
    assert after.meta["commit"] == indexed["m2"]
    assert not [f for f in after.functions if f[0].startswith("fork/") or f[0] in ("shop/a.py", "shop/b.py")]
