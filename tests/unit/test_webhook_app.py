"""The receiver's HTTP behaviour: status codes, de-duplication, enqueueing, health and metrics."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence

import pytest
from fastapi.testclient import TestClient

from bot.app import WEBHOOK_PATH, create_app
from bot.webhooks.dispatch import Job
from bot.webhooks.enqueue import EnqueuerDeliveryQueue, RecordingEnqueuer, RedisDeliveryQueue
from core.errors import ConfigError, TransientError
from tests.conftest_bot import FakeRedis, bot_settings, delivery_headers, encode, pull_request_payload
from workers.tasks import names


@pytest.fixture
def redis() -> FakeRedis:
    return FakeRedis()


@pytest.fixture
def enqueuer() -> RecordingEnqueuer:
    return RecordingEnqueuer()


@pytest.fixture
def client(redis: FakeRedis, enqueuer: RecordingEnqueuer) -> Iterator[TestClient]:
    app = create_app(bot_settings(webhook_max_body_bytes=4096), enqueuer=enqueuer, redis=redis)  # type: ignore[arg-type]
    with TestClient(app) as test_client:
        yield test_client


def _post(client: TestClient, event: str, body: bytes, **header_overrides: str):
    headers = delivery_headers(event, body)
    headers.update(header_overrides)
    return client.post(WEBHOOK_PATH, content=body, headers=headers)


# --- start-up --------------------------------------------------------------------------------


def test_refuses_to_start_without_a_secret() -> None:
    with pytest.raises(ConfigError, match="DOPPEL_GITHUB_WEBHOOK_SECRET is not set"):
        create_app(bot_settings(github_webhook_secret=None), enqueuer=RecordingEnqueuer(), redis=FakeRedis())  # type: ignore[arg-type]


def test_refuses_a_placeholder_secret() -> None:
    with pytest.raises(ConfigError, match="placeholder"):
        create_app(bot_settings(github_webhook_secret="changeme"), enqueuer=RecordingEnqueuer(), redis=FakeRedis())  # type: ignore[arg-type]


def test_insecure_dev_accepts_unsigned_deliveries() -> None:
    enqueuer = RecordingEnqueuer()
    settings = bot_settings(github_webhook_secret=None, insecure_dev=True)
    with TestClient(create_app(settings, enqueuer=enqueuer, redis=FakeRedis())) as client:  # type: ignore[arg-type]
        body = encode(pull_request_payload())
        response = client.post(
            WEBHOOK_PATH, content=body, headers={"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "d-1"}
        )
    assert response.status_code == 202
    assert len(enqueuer.jobs) == 1


def test_importing_and_building_the_app_never_imports_torch_or_task_code() -> None:
    code = (
        "import sys\n"
        "from bot.app import create_app\n"
        "from core.settings import Settings\n"
        "create_app(Settings(_env_file=None, github_webhook_secret='x' * 32))\n"
        "heavy = [m for m in ('torch', 'transformers', 'git', 'workers.tasks.review', 'embedding') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr


# --- status codes ----------------------------------------------------------------------------


def test_accepted_pull_request_is_enqueued_once(client: TestClient, enqueuer: RecordingEnqueuer) -> None:
    response = _post(client, "pull_request", encode(pull_request_payload("opened", head_sha="e" * 40)))
    assert response.status_code == 202
    assert response.json()["jobs"] == [names.REVIEW_PULL_REQUEST]
    assert [job.kwargs["head_sha"] for job in enqueuer.jobs] == ["e" * 40]


def test_missing_signature_is_401(client: TestClient, enqueuer: RecordingEnqueuer) -> None:
    body = encode(pull_request_payload())
    headers = delivery_headers("pull_request", body)
    del headers["X-Hub-Signature-256"]
    response = client.post(WEBHOOK_PATH, content=body, headers=headers)
    assert response.status_code == 401
    assert enqueuer.jobs == []


def test_signature_of_another_body_is_401(client: TestClient, enqueuer: RecordingEnqueuer) -> None:
    body = encode(pull_request_payload())
    forged = delivery_headers("pull_request", body + b" ")["X-Hub-Signature-256"]
    assert _post(client, "pull_request", body, **{"X-Hub-Signature-256": forged}).status_code == 401
    assert enqueuer.jobs == []


def test_signature_with_another_secret_is_401(client: TestClient) -> None:
    body = encode(pull_request_payload())
    headers = delivery_headers("pull_request", body, secret="not-the-right-secret-at-all")
    assert client.post(WEBHOOK_PATH, content=body, headers=headers).status_code == 401


def test_malformed_json_is_400(client: TestClient) -> None:
    response = _post(client, "pull_request", b'{"action": "opened",')
    assert response.status_code == 400 and "JSON" in response.json()["detail"]


def test_payload_missing_fields_is_400(client: TestClient) -> None:
    response = _post(client, "pull_request", encode({"action": "opened"}))
    assert response.status_code == 400 and "pull_request" in response.json()["detail"]


def test_missing_event_or_delivery_header_is_400(client: TestClient) -> None:
    body = encode(pull_request_payload())
    assert _post(client, "pull_request", body, **{"X-GitHub-Event": ""}).status_code == 400
    assert _post(client, "pull_request", body, **{"X-GitHub-Delivery": ""}).status_code == 400


def test_declared_body_over_the_limit_is_413(client: TestClient, enqueuer: RecordingEnqueuer) -> None:
    body = encode({**pull_request_payload(), "padding": "x" * 5000})
    response = _post(client, "pull_request", body)
    assert response.status_code == 413
    assert enqueuer.jobs == []


def test_streamed_body_over_the_limit_is_413(client: TestClient) -> None:
    body = encode({**pull_request_payload(), "padding": "x" * 5000})
    headers = delivery_headers("pull_request", body)

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    response = client.post(WEBHOOK_PATH, content=chunks(), headers=headers)
    assert response.status_code == 413


def test_ignored_events_are_200_and_enqueue_nothing(client: TestClient, enqueuer: RecordingEnqueuer) -> None:
    response = _post(client, "pull_request", encode(pull_request_payload("closed")))
    assert response.status_code == 200
    assert response.json() == {
        "status": "ignored",
        "delivery": response.json()["delivery"],
        "reason": "ignored.pull_request.closed",
    }
    assert _post(client, "ping", encode({"zen": "Half measures are as bad as nothing at all."})).status_code == 200
    assert enqueuer.jobs == []


# --- de-duplication and queue failures -------------------------------------------------------


def test_repeated_delivery_is_dropped(client: TestClient, enqueuer: RecordingEnqueuer, redis: FakeRedis) -> None:
    body = encode(pull_request_payload())
    first = _post(client, "pull_request", body, **{"X-GitHub-Delivery": "same-id"})
    second = _post(client, "pull_request", body, **{"X-GitHub-Delivery": "same-id"})
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json()["status"] == "duplicate"
    assert len(enqueuer.jobs) == 1
    assert redis.ttls["doppel:delivery:same-id"] == bot_settings().delivery_ttl_seconds


def test_queue_failure_is_503_and_the_redelivery_is_processed(client: TestClient, enqueuer: RecordingEnqueuer) -> None:
    body = encode(pull_request_payload())
    enqueuer.fail = ConnectionError("broker down")
    assert _post(client, "pull_request", body, **{"X-GitHub-Delivery": "retry-me"}).status_code == 503
    enqueuer.fail = None
    assert _post(client, "pull_request", body, **{"X-GitHub-Delivery": "retry-me"}).status_code == 202
    assert len(enqueuer.jobs) == 1


def test_redis_down_is_503(client: TestClient, redis: FakeRedis) -> None:
    redis.down = True
    assert _post(client, "pull_request", encode(pull_request_payload())).status_code == 503


# --- health and metrics ----------------------------------------------------------------------


def test_healthz_and_readyz(client: TestClient, redis: FakeRedis) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    redis.down = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503


def test_metrics_count_outcomes(client: TestClient) -> None:
    _post(client, "pull_request", encode(pull_request_payload()))
    _post(client, "pull_request", b"{", **{"X-Hub-Signature-256": "sha256=00"})
    text = client.get("/metrics").text
    assert 'doppel_webhook_deliveries_total{event="pull_request",outcome="accepted"} 1.0' in text
    assert 'doppel_webhook_deliveries_total{event="pull_request",outcome="rejected_signature"} 1.0' in text
    assert f'doppel_tasks_enqueued_total{{task="{names.REVIEW_PULL_REQUEST}"}} 1.0' in text
    assert "doppel_webhook_seconds_count 2.0" in text


# --- the queue port ---------------------------------------------------------------------------


class FakeQueue:
    """A ``DeliveryQueue`` in memory: remembers deliveries and their jobs; ``down`` fails calls."""

    def __init__(self) -> None:
        self.accepted: dict[str, tuple[Job, ...]] = {}
        self.down = False
        self.closed = False

    async def accept(self, delivery: str, jobs: Sequence[Job]) -> bool:
        if self.down:
            raise TransientError("fake queue is down")
        if delivery in self.accepted:
            return False
        self.accepted[delivery] = tuple(jobs)
        return True

    async def ping(self) -> None:
        if self.down:
            raise TransientError("fake queue is down")

    async def aclose(self) -> None:
        self.closed = True


def test_a_queue_port_decides_accepted_duplicate_and_unavailable() -> None:
    queue = FakeQueue()
    with TestClient(create_app(bot_settings(), queue=queue)) as client:
        body = encode(pull_request_payload(head_sha="c" * 40))
        first = _post(client, "pull_request", body, **{"X-GitHub-Delivery": "q-1"})
        repeat = _post(client, "pull_request", body, **{"X-GitHub-Delivery": "q-1"})
        queue.down = True
        down = _post(client, "pull_request", body, **{"X-GitHub-Delivery": "q-2"})
        ready = client.get("/readyz")
    assert (first.status_code, repeat.status_code, down.status_code, ready.status_code) == (202, 200, 503, 503)
    assert repeat.json()["status"] == "duplicate" and down.json()["status"] == "unavailable"
    assert [job.kwargs["head_sha"] for job in queue.accepted["q-1"]] == ["c" * 40]
    assert "q-2" not in queue.accepted
    assert queue.closed  # the app's shutdown closes its queue


def test_the_default_queue_is_the_redis_fast_path_and_an_enqueuer_selects_the_threaded_one() -> None:
    assert isinstance(create_app(bot_settings()).state.receiver.queue, RedisDeliveryQueue)
    threaded = create_app(bot_settings(), enqueuer=RecordingEnqueuer(), redis=FakeRedis())  # type: ignore[arg-type]
    assert isinstance(threaded.state.receiver.queue, EnqueuerDeliveryQueue)
