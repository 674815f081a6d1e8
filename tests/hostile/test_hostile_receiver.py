"""Hostile webhook deliveries: bodies are read as a stream, the HMAC computed on the way, and
unsigned, oversized, slow or abandoned bodies are refused without being buffered or waited for.

The ASGI app is driven directly with a ``receive()`` that counts what it hands out or stalls, so
that the tests see how much of a body the receiver asked for; one test runs a real uvicorn server.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from bot.app import WEBHOOK_PATH, create_app
from bot.webhooks.enqueue import RecordingEnqueuer
from bot.webhooks.signature import sign
from cli import bot as cli_bot
from cli.main import build_parser
from core import settings as core_settings
from tests.conftest_bot import SECRET, FakeRedis, bot_settings, encode, pull_request_payload

CHUNK = 1024
LIMIT = 4 * CHUNK


class _Body:
    """An ASGI ``receive`` that hands out ``chunks`` one by one and counts them; after the last
    one it stalls (``stall``) or reports a disconnect."""

    def __init__(self, chunks: list[bytes], *, stall: bool = False, more_after: bool = False) -> None:
        self.chunks, self.stall, self.more_after = chunks, stall, more_after
        self.consumed = 0

    async def __call__(self) -> dict[str, Any]:
        if self.consumed < len(self.chunks):
            self.consumed += 1
            more = self.consumed < len(self.chunks) or self.more_after
            return {"type": "http.request", "body": self.chunks[self.consumed - 1], "more_body": more}
        if self.stall:
            await asyncio.sleep(30)  # a client that sent part of its body and went quiet
        return {"type": "http.disconnect"}


def _scope(headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": WEBHOOK_PATH, "raw_path": WEBHOOK_PATH.encode(), "query_string": b"", "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }  # fmt: skip


def _headers(body: bytes | None, **extra: str) -> dict[str, str]:
    headers = {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "d-1", "Content-Type": "application/json"}
    if body is not None:
        headers["X-Hub-Signature-256"] = sign(SECRET.encode(), body)
    headers.update(extra)
    return headers


def _deliver(body: _Body, headers: dict[str, str], **settings: Any) -> tuple[int, dict[str, str]]:
    """Run one delivery through the ASGI app; the status and the response headers."""
    app = create_app(
        bot_settings(webhook_max_body_bytes=LIMIT, **settings), enqueuer=RecordingEnqueuer(), redis=FakeRedis()
    )  # type: ignore[arg-type]
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:  # the bound only ends a hang of the code before the fix
        await asyncio.wait_for(app(_scope(headers), body, send), timeout=60)

    asyncio.run(run())
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}


def _chunks(n: int) -> list[bytes]:
    return [b"x" * CHUNK for _ in range(n)]


# --- the signature before the body -----------------------------------------------------------


def test_an_unsigned_oversized_body_is_refused_before_any_of_it_is_read() -> None:
    body = _Body(_chunks(1000))  # 1 MB, chunked (no Content-Length), no signature header
    status, headers = _deliver(body, _headers(None))
    assert status == 401
    assert body.consumed == 0
    assert headers.get("connection") == "close"


def test_a_malformed_signature_header_is_refused_before_the_body_is_read() -> None:
    for header in ("sha256=zz", "sha1=" + "0" * 40, "sha256=" + "0" * 63, "sha256=" + "é" * 64):
        body = _Body(_chunks(3))
        status, _ = _deliver(body, _headers(None, **{"X-Hub-Signature-256": header}))
        assert (status, body.consumed) == (401, 0), header


def test_a_forged_signature_on_an_oversized_body_stops_reading_at_the_limit() -> None:
    body = _Body(_chunks(1000))
    status, headers = _deliver(body, _headers(b"another body"))
    assert status == 413
    assert body.consumed == LIMIT // CHUNK + 1
    assert headers.get("connection") == "close"


def test_the_hmac_computed_while_reading_accepts_a_body_signed_whole() -> None:
    raw = encode(pull_request_payload())
    parts = [raw[i : i + 7] for i in range(0, len(raw), 7)]
    status, _ = _deliver(_Body(parts), _headers(raw))
    assert status == 202


def test_the_hmac_computed_while_reading_refuses_a_body_changed_in_one_chunk() -> None:
    raw = encode(pull_request_payload())
    parts = [raw[i : i + 7] for i in range(0, len(raw), 7)]
    parts[3] = parts[3][:-1] + b" "
    status, _ = _deliver(_Body(parts), _headers(raw))
    assert status == 401


# --- slow and abandoned bodies ---------------------------------------------------------------


def test_a_slow_body_gets_408_and_the_connection_is_closed() -> None:
    body = _Body(_chunks(1), stall=True, more_after=True)
    status, headers = _deliver(body, _headers(b"{}"), webhook_body_timeout_seconds=0.2)
    assert status == 408
    assert headers.get("connection") == "close"


def test_a_client_that_disconnects_mid_body_is_not_a_server_error() -> None:
    body = _Body(_chunks(1), more_after=True)  # one chunk, more promised, then gone
    status, _ = _deliver(body, _headers(b"{}"))
    assert status == 400


@pytest.fixture
def live_server() -> Iterator[int]:
    """A real uvicorn server on a free port, with a 0.3 s body timeout."""
    app = create_app(bot_settings(webhook_body_timeout_seconds=0.3), enqueuer=RecordingEnqueuer(), redis=FakeRedis())  # type: ignore[arg-type]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        threading.Event().wait(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_real_server_answers_a_slow_body_with_408_and_closes_the_connection(live_server: int) -> None:
    with socket.create_connection(("127.0.0.1", live_server), timeout=20) as conn:
        head = (
            f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
            f"X-GitHub-Event: ping\r\nX-GitHub-Delivery: d-1\r\nX-Hub-Signature-256: sha256={'0' * 64}\r\n\r\n"
        )
        conn.sendall(head.encode() + b"{")  # 1 of 1,000 bytes, then nothing
        received = b""
        while chunk := conn.recv(4096):  # b"" once the server closes; the socket timeout bounds a hang
            received += chunk
    assert received.startswith(b"HTTP/1.1 408")


# --- doppel serve ----------------------------------------------------------------------------


def _serve_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", *argv])


def test_serve_builds_a_uvicorn_config_with_the_connection_limit_and_keep_alive() -> None:
    settings = bot_settings(webhook_max_concurrency=17, webhook_keep_alive_seconds=3)
    options = cli_bot.uvicorn_options(_serve_args("--port", "9123"), settings)
    config = uvicorn.Config("bot.app:create_app", **options)
    assert (config.limit_concurrency, config.timeout_keep_alive) == (17, 3)
    assert (config.host, config.port, config.factory) == ("127.0.0.1", 9123, True)


def test_serve_passes_the_limits_to_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append((args, kwargs)))
    monkeypatch.setenv("DOPPEL_GITHUB_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("DOPPEL_WEBHOOK_MAX_CONCURRENCY", "23")
    monkeypatch.setenv("DOPPEL_WEBHOOK_KEEP_ALIVE_SECONDS", "4")
    core_settings.get_settings.cache_clear()
    try:
        assert cli_bot.run_serve(_serve_args()) == 0
    finally:
        core_settings.get_settings.cache_clear()
    [(args, kwargs)] = calls
    assert args == ("bot.app:create_app",)
    assert (kwargs["limit_concurrency"], kwargs["timeout_keep_alive"]) == (23, 4)
