"""Celery task messages built by the receiver: routing, the envelope a worker decodes, refusals.

No broker is contacted: building a message is pure. The byte-for-byte comparison with what
``send_task`` pushes, and a real worker running one, are in tests/integration/test_webhook_queue.py.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from celery import Celery
from kombu import Exchange, Queue

from bot.webhooks.messages import TaskMessages
from core.errors import ConfigError
from tests.conftest_bot import bot_settings
from workers.celery_app import create_celery
from workers.tasks import names

KWARGS = {"installation_id": 42, "repo": "octo/widgets", "pr_number": 7, "head_sha": "a" * 40}


@pytest.fixture(scope="module")
def messages() -> TaskMessages:
    return TaskMessages(create_celery(bot_settings(), include_tasks=False))


def _decode(payload: bytes) -> tuple[dict[str, Any], Any]:
    envelope = json.loads(payload)
    assert envelope["properties"]["body_encoding"] == "base64"
    assert envelope["content-type"] == "application/json"
    return envelope, json.loads(base64.b64decode(envelope["body"]))


@pytest.mark.parametrize(("task", "queue"), sorted(names.ROUTES.items()))
def test_every_task_goes_to_its_routed_queue(messages: TaskMessages, task: str, queue: str) -> None:
    message = messages.build(task, {})
    assert message.queue == queue == messages.route(task)
    envelope, _ = _decode(message.payload)
    assert envelope["properties"]["delivery_info"] == {"exchange": "", "routing_key": queue}


def test_an_unrouted_task_goes_to_the_default_queue(messages: TaskMessages) -> None:
    assert messages.route("someone.elses_task") == names.QUEUE_IO


def test_message_is_celery_protocol_2(messages: TaskMessages) -> None:
    message = messages.build(names.REVIEW_PULL_REQUEST, KWARGS, task_id="task-1")
    envelope, body = _decode(message.payload)
    headers, properties = envelope["headers"], envelope["properties"]
    assert message.task_id == headers["id"] == headers["root_id"] == properties["correlation_id"] == "task-1"
    assert headers["task"] == names.REVIEW_PULL_REQUEST and headers["lang"] == "py"
    assert body == [[], KWARGS, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]
    assert headers["argsrepr"] == "()" and headers["kwargsrepr"] == repr(KWARGS)
    assert properties["delivery_mode"] == 2 and properties["priority"] == 0  # persistent, default priority


def test_every_message_has_its_own_ids(messages: TaskMessages) -> None:
    first, second = (json.loads(messages.build(names.INDEX_PUSH, {}).payload) for _ in range(2))
    assert first["headers"]["id"] != second["headers"]["id"]
    assert first["properties"]["delivery_tag"] != second["properties"]["delivery_tag"]


def test_a_long_kwargs_repr_is_cut_as_celery_cuts_it(messages: TaskMessages) -> None:
    envelope, body = _decode(messages.build(names.SIMILAR_COMMAND, {"query": "x" * 5000}).payload)
    assert len(envelope["headers"]["kwargsrepr"]) == 1024 and envelope["headers"]["kwargsrepr"].endswith("...")
    assert body[1] == {"query": "x" * 5000}  # the arguments themselves are whole


def test_refuses_a_broker_other_than_redis() -> None:
    with pytest.raises(ConfigError, match="Redis broker"):
        TaskMessages(Celery("x", broker="amqp://guest@localhost//"))


def test_refuses_compression() -> None:
    app = create_celery(bot_settings(), include_tasks=False)
    app.conf.task_compression = "gzip"
    with pytest.raises(ConfigError, match="compress"):
        TaskMessages(app)


def test_refuses_a_queue_it_cannot_push_to_directly() -> None:
    app = create_celery(bot_settings(), include_tasks=False)
    app.conf.task_queues = (Queue("fan", Exchange("fan", type="fanout")),)
    app.conf.task_routes = {"t.fanned": {"queue": "fan"}}
    with pytest.raises(ConfigError, match="direct queues"):
        TaskMessages(app).build("t.fanned", {})
