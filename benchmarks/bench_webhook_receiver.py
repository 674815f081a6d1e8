"""Webhook receiver under a burst: latency and "every accepted delivery is exactly one task".

Starts the real receiver (uvicorn, one process, loopback) against Redis DB 14, fires N
concurrent signed ``pull_request`` deliveries (httpx, asyncio), then reads the ``gpu`` queue
list in Redis back and checks that it holds exactly one review task per accepted delivery.
Also re-sends every delivery once: all repeats must be dropped. Prints p50/p90/p99/max.

    .venv/bin/python benchmarks/bench_webhook_receiver.py [--n 200] [--out benchmarks/results/webhook.md]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.webhooks.signature import sign  # noqa: E402
from workers.tasks import names  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/14"  # a DB of its own: flushed before and after
SECRET = "bench-secret-" + uuid.uuid4().hex


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _payload(number: int) -> bytes:
    return json.dumps(
        {
            "action": "opened",
            "number": number,
            "pull_request": {
                "number": number,
                "state": "open",
                "draft": False,
                "head": {"sha": f"{number:040x}", "ref": f"feature-{number}"},
                "base": {"sha": "b" * 40, "ref": "main"},
            },
            "repository": {"full_name": "bench/repo", "default_branch": "main"},
            "installation": {"id": 1},
            "sender": {"login": "octocat", "type": "User"},
        }
    ).encode()


async def _fire(
    url: str, deliveries: list[tuple[str, bytes]], concurrency: int | None = None
) -> list[tuple[int, float]]:
    """Post every delivery, at most ``concurrency`` in flight (None: all at once)."""
    width = concurrency or len(deliveries)
    limits = httpx.Limits(max_connections=width, max_keepalive_connections=width)
    gate = asyncio.Semaphore(width)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one(delivery: str, body: bytes) -> tuple[int, float]:
            headers = {
                "X-GitHub-Event": "pull_request",
                "X-GitHub-Delivery": delivery,
                "X-Hub-Signature-256": sign(SECRET.encode(), body),
                "Content-Type": "application/json",
            }
            async with gate:
                started = time.perf_counter()
                response = await client.post(url, content=body, headers=headers)
                return response.status_code, (time.perf_counter() - started) * 1000

        return await asyncio.gather(*(one(d, b) for d, b in deliveries))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _queued_prs(client: redis.Redis) -> list[int]:
    """PR numbers of the review tasks waiting in the gpu queue (kombu's Redis list)."""
    numbers = []
    for raw in client.lrange(names.QUEUE_GPU, 0, -1):
        message = json.loads(raw)
        assert message["headers"]["task"] == names.REVIEW_PULL_REQUEST
        args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        numbers.append(kwargs["pr_number"])
    return numbers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="concurrent deliveries (default 200)")
    parser.add_argument("--out", type=Path, help="write a Markdown report here")
    args = parser.parse_args()

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOPPEL_")}
    env.update(DOPPEL_GITHUB_WEBHOOK_SECRET=SECRET, DOPPEL_REDIS_URL=REDIS_URL, PYTHONPATH=str(ROOT))
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bot.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the receiver did not become ready")
            time.sleep(0.1)

        url = base + "/github/webhook"
        warmup = [(str(uuid.uuid4()), _payload(100_000 + i)) for i in range(20)]
        asyncio.run(_fire(url, warmup))
        client.delete(names.QUEUE_GPU)

        deliveries = [(str(uuid.uuid4()), _payload(i)) for i in range(1, args.n + 1)]
        burst_started = time.perf_counter()
        results = asyncio.run(_fire(url, deliveries))
        burst_seconds = time.perf_counter() - burst_started
        repeats = asyncio.run(_fire(url, deliveries))
        # The same work one at a time: the cost of one delivery without queueing behind others.
        serial = [(str(uuid.uuid4()), _payload(200_000 + i)) for i in range(args.n)]
        serial_results = asyncio.run(_fire(url, serial, concurrency=1))
    finally:
        server.terminate()
        server.wait(10)

    statuses = [s for s, _ in results]
    latencies = [ms for _, ms in results]
    accepted = statuses.count(202)
    queued = [n for n in _queued_prs(client) if n < 200_000]
    serial_latencies = [ms for _, ms in serial_results]
    serial_accepted = [s for s, _ in serial_results].count(202)
    repeat_statuses = [s for s, _ in repeats]
    client.flushdb()

    exact = sorted(queued) == list(range(1, args.n + 1)) and accepted == args.n and serial_accepted == args.n
    dropped = repeat_statuses.count(200) == args.n
    p50, p90, p99 = (_percentile(latencies, q) for q in (0.5, 0.9, 0.99))
    lines = [
        f"deliveries: {args.n} concurrent, accepted (202): {accepted}, other statuses: "
        f"{sorted(set(statuses) - {202}) or 'none'}",
        f"burst latency ms: p50 {p50:.1f}  p90 {p90:.1f}  p99 {p99:.1f}  max {max(latencies):.1f}  "
        f"mean {statistics.mean(latencies):.1f}  (all {args.n} answered in {burst_seconds:.2f} s: "
        f"{args.n / burst_seconds:.0f} deliveries/s)",
        f"one at a time ({len(serial)} deliveries, {serial_accepted} accepted) latency ms: "
        f"p50 {_percentile(serial_latencies, 0.5):.1f}  p99 {_percentile(serial_latencies, 0.99):.1f}  "
        f"max {max(serial_latencies):.1f}",
        f"queued review tasks: {len(queued)}; one per accepted delivery, none lost or doubled: {exact}",
        f"repeated deliveries dropped (200 duplicate): {repeat_statuses.count(200)}/{args.n}: {dropped}",
        f"burst p99 < 50 ms: {p99 < 50}; one-at-a-time p99 < 50 ms: {_percentile(serial_latencies, 0.99) < 50}",
    ]
    print("\n".join(lines))
    if args.out:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        machine = f"{platform.machine()}, {os.cpu_count()} CPUs (load average {load} at the end), Python {platform.python_version()}, {platform.system()} {platform.release()}"
        args.out.write_text(
            "# Webhook receiver benchmark\n\n"
            "`benchmarks/bench_webhook_receiver.py`: one uvicorn process on loopback, Redis on loopback (DB 14), "
            f"{args.n} signed `pull_request` deliveries fired at once with httpx (asyncio), after 20 warm-up ones; "
            "then each delivery re-sent once.\n\n"
            f"Machine: {machine}. Shared with other jobs while measured.\n\n```\n" + "\n".join(lines) + "\n```\n"
        )
    return 0 if exact and dropped else 1


if __name__ == "__main__":
    sys.exit(main())
