"""The webhook receiver: a FastAPI app that checks, parses and enqueues GitHub deliveries.

It does no work itself (no git, no model: torch is never imported here). A delivery is
answered within milliseconds: 401 for a missing or bad signature, 413 above the body limit,
408 for a body that has not all arrived within ``webhook_body_timeout_seconds``, 400 for a body
or payload it cannot read, 200 for events it ignores and repeated deliveries, 202 once its jobs
are on the queue, 503 when the queue cannot be reached. Recording the delivery id and queueing
its jobs take one Redis round trip (``bot.webhooks.enqueue``).

Anyone can reach the endpoint, so the body costs as little as possible before it is trusted: a
delivery without a well-formed signature header is refused before its body is read, the body is
read as a stream with the HMAC computed chunk by chunk, and reading stops at the size limit or
the time limit. A refusal that leaves the body unread closes the connection.

Run with ``uvicorn --factory bot.app:create_app`` or ``doppel serve``.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from bot.dedup import DeliveryLog, valid_delivery_id
from bot.metrics import CONTENT_TYPE_LATEST, WebhookMetrics
from bot.webhooks import signature
from bot.webhooks.dispatch import Policy, route
from bot.webhooks.enqueue import (
    CeleryEnqueuer,
    DeliveryQueue,
    Enqueuer,
    EnqueuerDeliveryQueue,
    RateLimiter,
    RedisDeliveryQueue,
)
from bot.webhooks.events import PayloadError, parse_event
from core.errors import ConfigError, TransientError
from core.settings import PLACEHOLDER_SECRETS, Settings, get_settings

if TYPE_CHECKING:
    from redis import Redis

try:  # orjson parses GitHub's 20-30 KB payloads two to three times faster than the standard library
    from orjson import loads as json_loads
except ImportError:  # pragma: no cover - the same answers, only slower
    from json import loads as json_loads  # type: ignore[assignment]

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/github/webhook"


class _DeliveryRejectedError(Exception):
    """A delivery refused at the edge with an HTTP status and a reason for the sender; ``close``
    when its body was not read to the end, so that the connection cannot be used again."""

    def __init__(self, status: int, outcome: str, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status, self.outcome, self.message, self.close = status, outcome, message, close


def webhook_secret(settings: Settings) -> bytes | None:
    """The secret to verify deliveries with; refuses to run without one unless ``insecure_dev``."""
    secret = settings.webhook_secret_bytes()
    if secret is not None and secret.decode(errors="replace").strip().lower() not in PLACEHOLDER_SECRETS:
        return secret
    if settings.insecure_dev:
        log.warning("webhook.insecure_dev: DOPPEL_INSECURE_DEV is set; deliveries are not authenticated properly")
        return secret
    problem = "is not set" if secret is None else "is a placeholder value"
    raise ConfigError(
        f"DOPPEL_GITHUB_WEBHOOK_SECRET {problem}: set it to the GitHub App's webhook secret "
        "(or set DOPPEL_INSECURE_DEV=1 for local development only)"
    )


@dataclass
class _Receiver:
    """What the routes share: the secret, the queue, the metrics and the routing policy."""

    settings: Settings
    secret: bytes | None
    queue: DeliveryQueue
    metrics: WebhookMetrics
    policy: Policy

    async def handle(self, request: Request) -> Response:
        event_name = request.headers.get("x-github-event", "")
        started = time.perf_counter()
        headers: dict[str, str] | None = None
        try:
            status, body = await self._handle(request, event_name)
        except _DeliveryRejectedError as rejected:
            self.metrics.deliveries.labels(event_name or "unknown", rejected.outcome).inc()
            log.info("webhook.%s event=%s: %s", rejected.outcome, event_name, rejected.message)
            status, body = rejected.status, {"status": rejected.outcome, "detail": rejected.message}
            if rejected.close:
                headers = {"Connection": "close"}
        self.metrics.latency.observe(time.perf_counter() - started)
        return JSONResponse(body, status_code=status, headers=headers)

    async def _handle(self, request: Request, event_name: str) -> tuple[int, dict[str, Any]]:
        mac: hmac.HMAC | None = None
        digest: bytes | None = None
        if self.secret is not None:
            digest = signature.header_digest(request.headers.get("x-hub-signature-256"))
            if digest is None:
                raise _DeliveryRejectedError(
                    401, "rejected_signature", "X-Hub-Signature-256 is missing or malformed", close=True
                )
            mac = signature.hasher(self.secret)
        raw = await _read_body(
            request,
            limit=self.settings.webhook_max_body_bytes,
            timeout=self.settings.webhook_body_timeout_seconds,
            mac=mac,
        )
        if mac is not None and digest is not None and not signature.matches(mac, digest):
            raise _DeliveryRejectedError(401, "rejected_signature", "X-Hub-Signature-256 does not match the body")
        if not event_name:
            raise _DeliveryRejectedError(400, "rejected_malformed", "X-GitHub-Event header is missing")
        delivery = request.headers.get("x-github-delivery")
        if delivery is None or not valid_delivery_id(delivery):
            raise _DeliveryRejectedError(400, "rejected_malformed", "X-GitHub-Delivery header is missing or malformed")
        try:
            payload = json_loads(raw)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
            raise _DeliveryRejectedError(400, "rejected_malformed", f"body is not valid JSON ({exc})") from exc
        try:
            decision = route(parse_event(event_name, payload), self.policy)
        except PayloadError as exc:
            raise _DeliveryRejectedError(400, "rejected_malformed", str(exc)) from exc

        base = {"delivery": delivery, "reason": decision.reason}
        if not decision.accepted:
            self.metrics.deliveries.labels(event_name, "ignored").inc()
            return 200, {"status": "ignored", **base}
        try:
            fresh = await self.queue.accept(delivery, decision.jobs)
        except TransientError as exc:
            log.error("webhook.enqueue_failed delivery=%s: %s", delivery, exc)
            raise _DeliveryRejectedError(503, "unavailable", "the task queue is unreachable; redeliver later") from exc
        if not fresh:
            self.metrics.deliveries.labels(event_name, "duplicate").inc()
            return 200, {"status": "duplicate", **base}
        self.metrics.deliveries.labels(event_name, "accepted").inc()
        for job in decision.jobs:
            self.metrics.enqueued.labels(job.task).inc()
        log.info("webhook.accepted delivery=%s reason=%s jobs=%d", delivery, decision.reason, len(decision.jobs))
        return 202, {"status": "accepted", "jobs": [job.task for job in decision.jobs], **base}


async def _read_body(request: Request, *, limit: int, timeout: float, mac: hmac.HMAC | None) -> bytes:
    """The raw body, read as a stream into ``mac`` (an HMAC, when deliveries are signed) as it
    arrives. Refused with 413 as soon as it is known to exceed ``limit`` bytes, with 408 when all
    of it has not arrived within ``timeout`` seconds, and with 400 when the client goes away."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit() and len(declared) <= 20):
            raise _DeliveryRejectedError(400, "rejected_malformed", "Content-Length is not a number", close=True)
        if int(declared) > limit:
            raise _DeliveryRejectedError(
                413, "rejected_too_large", f"body of {declared} bytes exceeds the {limit}-byte limit", close=True
            )
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _DeliveryRejectedError(
                        413, "rejected_too_large", f"body exceeds the {limit}-byte limit", close=True
                    )
                if mac is not None:
                    mac.update(chunk)
                chunks.append(chunk)
    except TimeoutError as exc:
        raise _DeliveryRejectedError(
            408, "rejected_slow_body", f"the body did not arrive within {timeout:g} s", close=True
        ) from exc
    except ClientDisconnect as exc:
        raise _DeliveryRejectedError(400, "rejected_disconnected", "the client went away mid-body", close=True) from exc
    return b"".join(chunks)


def create_app(
    settings: Settings | None = None,
    *,
    enqueuer: Enqueuer | None = None,
    redis: Redis | None = None,
    queue: DeliveryQueue | None = None,
) -> FastAPI:
    """Build the receiver. Refuses (``ConfigError``) to start without a webhook secret unless
    ``insecure_dev``.

    The queue defaults to ``RedisDeliveryQueue`` on ``settings.redis_url`` (one Redis round trip
    per delivery). Passing a job-at-a-time ``enqueuer`` and/or a synchronous ``redis`` client
    selects ``EnqueuerDeliveryQueue`` instead, the missing one defaulting to Celery's ``send_task``
    and a client on ``settings.redis_url``; ``queue`` replaces the queue outright.
    """
    settings = settings or get_settings()
    secret = webhook_secret(settings)
    if queue is None:
        queue = _default_queue(settings, enqueuer, redis)
    receiver = _Receiver(
        settings=settings,
        secret=secret,
        queue=queue,
        metrics=WebhookMetrics.create(),
        policy=Policy.from_settings(settings),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Everything alive now (modules, the app) lives as long as the process: keep it out of
        # the collector's sight, or each full collection walks it and stalls every request.
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            await receiver.queue.aclose()

    app = FastAPI(title="doppel webhook receiver", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.receiver = receiver

    # A plain Starlette route: FastAPI's parameter machinery would add about 50 µs to every
    # delivery for a handler that takes the raw request anyway.
    app.router.add_route(WEBHOOK_PATH, receiver.handle, methods=["POST"], name="github_webhook")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> Response:
        try:
            await receiver.queue.ping()
        except TransientError as exc:
            return JSONResponse({"status": "unavailable", "redis": str(exc)}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(receiver.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return app


def _default_queue(settings: Settings, enqueuer: Enqueuer | None, redis: Redis | None) -> DeliveryQueue:
    from workers.celery_app import create_celery

    if enqueuer is None and redis is None:
        return RedisDeliveryQueue.from_url(
            settings.redis_url, create_celery(settings, include_tasks=False), settings.delivery_ttl_seconds
        )
    if redis is None:
        from redis import Redis

        redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)
    if enqueuer is None:
        enqueuer = CeleryEnqueuer(create_celery(settings, include_tasks=False))
    return EnqueuerDeliveryQueue(
        DeliveryLog(redis, settings.delivery_ttl_seconds), enqueuer, redis.ping, limiter=RateLimiter.on(redis)
    )
