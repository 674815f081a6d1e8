"""Celery task messages built in the webhook process, byte for byte as ``send_task`` would queue them.

The receiver records a delivery and queues its jobs in one Redis round trip
(``enqueue.RedisDeliveryQueue``), so it cannot let ``send_task`` publish: that costs its own
round trips (the LPUSH, and with a Redis result backend a SUBSCRIBE and an UNSUBSCRIBE of the
task's result channel). Here Celery's own machinery builds the message (``amqp.create_task_message``,
protocol 2) and picks the queue (``amqp.router``); only kombu's last step is repeated: the
Redis transport's envelope (serialised body in base64, delivery info, a delivery tag) and the
list it is pushed onto (the queue's name, for a direct queue at the default priority).
``tests/integration/test_webhook_queue.py`` compares the result with what ``send_task`` pushes
and has a real worker run it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kombu.entity import DELIVERY_MODES
from kombu.serialization import dumps as serialize
from kombu.utils.json import dumps as json_dumps
from kombu.utils.uuid import uuid

from core.errors import ConfigError

if TYPE_CHECKING:
    from celery import Celery


@dataclass(frozen=True)
class QueuedMessage:
    """One task message ready for ``LPUSH queue payload``."""

    task_id: str
    queue: str
    payload: bytes


@dataclass(frozen=True)
class _Route:
    queue: str
    delivery_mode: int


class TaskMessages:
    """Builds the messages of a producer-only Celery app (``create_celery(..., include_tasks=False)``).

    Only what doppel's configuration uses is supported: direct queues, the default priority, no
    compression, a Redis broker. Anything else is refused at construction (``ConfigError``) rather
    than queued in a form the worker might read differently.
    """

    def __init__(self, app: Celery) -> None:
        conf = app.conf
        if not str(conf.broker_url or "").startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"the webhook fast path needs a Redis broker, got {conf.broker_url!r}")
        if conf.task_compression:
            raise ConfigError(
                f"the webhook fast path does not compress messages (task_compression={conf.task_compression!r})"
            )
        self._app = app
        self._amqp = app.amqp
        self._serializer = conf.task_serializer
        self._default_delivery_mode = conf.task_default_delivery_mode
        self._reply_to = app.thread_oid
        self._kwargsrepr_maxsize = int(app.amqp.kwargsrepr_maxsize)
        self._routes: dict[str, _Route] = {}

    def route(self, task: str) -> str:
        """The Redis list ``task`` is queued on (Celery's ``task_routes``, else the default queue)."""
        return self._route(task).queue

    def build(self, task: str, kwargs: Mapping[str, Any], *, task_id: str | None = None) -> QueuedMessage:
        """The message ``send_task(task, kwargs=kwargs, task_id=task_id)`` would push."""
        route = self._route(task)
        task_id = task_id or uuid()
        kwargs = dict(kwargs)
        headers, properties, body, _ = self._amqp.create_task_message(
            task_id,
            task,
            None,
            kwargs,
            reply_to=self._reply_to,
            # As send_task passes it: the worker then follows the task's own setting.
            ignore_result=None,
            # Display-only headers (logs, Flower) that callers may set; Celery's saferepr of the
            # kwargs would cost a third of this method, and the kwargs are a few JSON primitives.
            argsrepr="()",
            kwargsrepr=_short_repr(kwargs, self._kwargsrepr_maxsize),
        )
        content_type, content_encoding, data = serialize(body, serializer=self._serializer)
        raw = data.encode(content_encoding) if isinstance(data, str) else data
        envelope = {
            "body": base64.b64encode(raw).decode("ascii"),
            "content-encoding": content_encoding,
            "content-type": content_type,
            "headers": headers,
            "properties": {
                **properties,
                "delivery_mode": route.delivery_mode,
                # Celery publishes a direct queue's messages to the anonymous exchange, routed by name.
                "delivery_info": {"exchange": "", "routing_key": route.queue},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": uuid(),
            },
        }
        return QueuedMessage(task_id=task_id, queue=route.queue, payload=json_dumps(envelope).encode())

    def _route(self, task: str) -> _Route:
        known = self._routes.get(task)
        if known is not None:
            return known
        options = self._amqp.router.route({}, task, None, None, None)
        queue = options.get("queue")
        if queue is None or isinstance(queue, str):
            raise ConfigError(f"task {task!r} routes to no declared queue ({options!r})")
        if queue.exchange.type != "direct" or options.get("priority") or queue.queue_arguments:
            raise ConfigError(
                f"task {task!r} routes to {queue!r}: the webhook fast path supports direct queues "
                "at the default priority only"
            )
        mode = queue.exchange.delivery_mode or self._default_delivery_mode
        route = _Route(queue=queue.name, delivery_mode=DELIVERY_MODES.get(mode, mode))
        self._routes[task] = route
        return route


def _short_repr(value: Mapping[str, Any], limit: int) -> str:
    """``repr(value)``, cut to ``limit`` characters as Celery cuts its own."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
