"""Webhook receiver under load: latency, and "every accepted delivery is exactly one task".

Starts the real receiver (uvicorn on loopback, Redis DB 14) and sends it signed ``pull_request``
deliveries of GitHub's real size (its own ``opened`` example from @octokit/webhooks-examples,
about 24 KB, when installed under tests/.npm; else a payload padded to that size), each on a
new connection as GitHub sends them, from a lean asyncio client (pre-signed requests, no HTTP
library) so that the client's own CPU takes as little as possible from the server's:

* burst: N deliveries at once;
* repeats: the burst's deliveries again, all of which must be dropped as duplicates;
* open loop: N deliveries at a fixed rate (default 500/s); each latency counts from the moment
  the delivery was due, so a client or server that falls behind is not hidden;
* one at a time: N deliveries in sequence, the cost of one with nothing queued before it.

Then it reads the queue lists back and checks that each accepted delivery became exactly one
review task. Each receiver configuration (queue path x uvicorn workers) runs in turn:

    .venv/bin/python benchmarks/bench_webhook_receiver.py [--n 200] [--rate 500] \
        [--configs noop:1,fast:1,fast:2,send_task:1] [--rounds 3] [--out figures.txt]

``fast`` is the default receiver (one Lua round trip per delivery); ``send_task`` the same app
with Celery's ``send_task`` behind a Redis ``SET NX`` in a worker thread (the former hot path);
``noop`` an app that answers 202 doing nothing at all, the floor this machine and client set.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import WEBHOOK_PATH, create_app  # noqa: E402
from bot.webhooks.enqueue import CeleryEnqueuer  # noqa: E402
from bot.webhooks.signature import sign  # noqa: E402
from workers.tasks import names  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/14"  # a DB of its own: flushed before and after
SECRET = "bench-secret-" + uuid.uuid4().hex
EXAMPLES = ROOT / "tests/.npm/node_modules/@octokit/webhooks-examples/api.github.com/index.json"
TARGET_P99_MS = 50.0


def reference_app() -> Any:
    """The receiver with the former hot path: ``SET NX``, then ``send_task``, in a worker thread."""
    from core.settings import get_settings
    from workers.celery_app import create_celery

    settings = get_settings()
    return create_app(settings, enqueuer=CeleryEnqueuer(create_celery(settings, include_tasks=False)))


def noop_app() -> Any:
    """The floor: an ASGI app that reads the body and answers 202 having done nothing, served by
    the same uvicorn to the same client, so that what the receiver itself costs stands apart."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        more = scope["type"] == "http" and scope["method"] == "POST"
        while more:
            more = (await receive()).get("more_body", False)
        await send({"type": "http.response.start", "status": 202 if scope["method"] == "POST" else 200})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


FACTORIES = {
    "fast": "bot.app:create_app",
    "send_task": "benchmarks.bench_webhook_receiver:reference_app",
    "noop": "benchmarks.bench_webhook_receiver:noop_app",
}


# --- deliveries ---------------------------------------------------------------------------------


def _template() -> tuple[dict[str, Any], str]:
    if EXAMPLES.exists():
        catalogue = {entry["name"]: entry for entry in json.loads(EXAMPLES.read_text())}
        opened = [e for e in catalogue["pull_request"]["examples"] if e.get("action") == "opened"]
        return opened[-1], "GitHub's pull_request.opened example (@octokit/webhooks-examples)"
    payload = {
        "action": "opened",
        "number": 1,
        "pull_request": {
            "number": 1,
            "state": "open",
            "draft": False,
            "head": {"sha": "0" * 40, "ref": "feature"},
            "base": {"sha": "b" * 40, "ref": "main"},
            "body": "lorem ipsum " * 2000,
        },
        "repository": {"full_name": "bench/repo", "default_branch": "main"},
        "installation": {"id": 1},
        "sender": {"login": "octocat", "type": "User"},
    }
    return payload, "a synthetic pull_request.opened payload padded to GitHub's size"


def _payload(template: dict[str, Any], number: int) -> bytes:
    payload = json.loads(json.dumps(template))
    payload["action"] = "opened"
    payload["number"] = payload["pull_request"]["number"] = number
    pr = payload["pull_request"]
    pr["state"], pr["draft"] = "open", False
    pr["head"]["sha"] = f"{number:040x}"
    payload["installation"] = {"id": 1}
    payload["sender"] = {"login": "octocat", "type": "User"}
    return json.dumps(payload).encode()


def _request(port: int, delivery: str, body: bytes) -> bytes:
    """The whole HTTP/1.1 request, signed, ready to write."""
    head = (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: GitHub-Hookshot/bench\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nX-GitHub-Event: pull_request\r\n"
        f"X-GitHub-Delivery: {delivery}\r\nX-Hub-Signature-256: {sign(SECRET.encode(), body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


# --- a lean HTTP client -------------------------------------------------------------------------


async def _post(port: int, request: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        return status
    finally:
        writer.close()


async def _timed(port: int, request: bytes, due: float | None = None) -> tuple[int, float]:
    """Status and milliseconds, counted from ``due`` (open loop) or from the start of the call."""
    if due is not None:
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    started = due if due is not None else time.perf_counter()
    status = await _post(port, request)
    return status, (time.perf_counter() - started) * 1000


async def _burst(port: int, requests: list[bytes]) -> list[tuple[int, float]]:
    return await asyncio.gather(*(_timed(port, r) for r in requests))


async def _open_loop(port: int, requests: list[bytes], rate: float) -> list[tuple[int, float]]:
    start = time.perf_counter() + 0.05
    return await asyncio.gather(*(_timed(port, r, start + i / rate) for i, r in enumerate(requests)))


async def _serial(port: int, requests: list[bytes]) -> list[tuple[int, float]]:
    return [await _timed(port, r) for r in requests]


def _run(coroutine: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


# --- one configuration ----------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    statuses: list[int]
    latencies: list[float]
    seconds: float

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]

    def line(self) -> str:
        counts = {s: self.statuses.count(s) for s in sorted(set(self.statuses))}
        return (
            f"{self.name:<22} p50 {self.percentile(0.5):7.1f}  p90 {self.percentile(0.9):7.1f}  "
            f"p99 {self.percentile(0.99):7.1f}  max {max(self.latencies):7.1f}  mean {statistics.mean(self.latencies):7.1f} ms"
            f"  | {len(self.statuses) / self.seconds:5.0f}/s  statuses {counts}"
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _queued_prs(client: redis.Redis) -> list[int]:
    """PR numbers of the review tasks waiting in the gpu queue (kombu's Redis list)."""
    numbers = []
    for raw in client.lrange(names.QUEUE_GPU, 0, -1):
        message = json.loads(raw)
        assert message["headers"]["task"] == names.REVIEW_PULL_REQUEST
        _, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        numbers.append(kwargs["pr_number"])
    return numbers


def _start(factory: str, workers: int, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOPPEL_")}
    env.update(DOPPEL_GITHUB_WEBHOOK_SECRET=SECRET, DOPPEL_REDIS_URL=REDIS_URL, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return server
        except OSError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise SystemExit(f"the receiver ({factory}, {workers} workers) did not become ready")
        time.sleep(0.2)


def run_config(
    queue: str, workers: int, n: int, rate: float, template: dict[str, Any]
) -> tuple[list[str], bool, list[Phase]]:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    port = _free_port()
    server = _start(FACTORIES[queue], workers, port)
    # PR numbers tell the phases apart: burst 1.., open loop 10_001.., serial 20_001.., warm-up 90_001..
    make = lambda first: [  # noqa: E731
        (str(uuid.uuid4()), _payload(template, first + i)) for i in range(n)
    ]
    burst, open_loop, serial = make(1), make(10_001), make(20_001)
    warmup = [_request(port, d, b) for d, b in make(90_001)[: 4 * workers * 10]]
    load_before = os.getloadavg()[0]
    phases = []
    try:
        _run(_burst(port, warmup))
        for name, deliveries, runner in (
            ("burst (all at once)", burst, lambda rs: _burst(port, rs)),
            ("repeats of the burst", burst, lambda rs: _burst(port, rs)),
            (f"open loop {rate:.0f}/s", open_loop, lambda rs: _open_loop(port, rs, rate)),
            ("one at a time", serial, lambda rs: _serial(port, rs)),
        ):
            requests = [_request(port, d, b) for d, b in deliveries]
            started = time.perf_counter()
            results = _run(runner(requests))
            phases.append(
                Phase(name, [s for s, _ in results], [ms for _, ms in results], time.perf_counter() - started)
            )
            time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(20)
    queued = sorted(pr for pr in _queued_prs(client) if pr < 90_001)
    client.flushdb()
    expected = sorted(list(range(1, n + 1)) + list(range(10_001, 10_001 + n)) + list(range(20_001, 20_001 + n)))
    accepted = sum(p.statuses.count(202) for p in phases)
    if queue == "noop":  # it queues nothing and drops nothing: only its latencies mean anything
        lines = [
            f"[noop floor, {workers} uvicorn worker{'s' if workers > 1 else ''}] load average before: {load_before:.1f}"
        ]
        phases = [p for p in phases if p.name != "repeats of the burst"]
        return lines + ["  " + p.line() for p in phases], True, phases
    exact = queued == expected and accepted == 3 * n
    dropped = phases[1].statuses.count(200) == n
    lines = [f"[{queue}, {workers} uvicorn worker{'s' if workers > 1 else ''}] load average before: {load_before:.1f}"]
    lines += ["  " + p.line() for p in phases]
    lines.append(
        f"  accepted {accepted}/{3 * n}; queued review tasks {len(queued)}, one per accepted delivery, "
        f"none lost or doubled: {exact}; repeats dropped {phases[1].statuses.count(200)}/{n}: {dropped}"
    )
    lines.append(
        f"  p99 < {TARGET_P99_MS:.0f} ms: burst {phases[0].percentile(0.99) < TARGET_P99_MS}, "
        f"open loop {phases[2].percentile(0.99) < TARGET_P99_MS}, one at a time {phases[3].percentile(0.99) < TARGET_P99_MS}"
    )
    return lines, exact and dropped, phases


def _summary(results: dict[str, list[list[Phase]]], rounds: int) -> list[str]:
    """Per configuration and phase: the median p50 and p99 over the rounds, and the p99 range."""
    names_ = [p.name for p in next(iter(results.values()))[0] if p.name != "repeats of the burst"]
    lines = [f"summary over {rounds} round(s), ms: median p50 / median p99 (p99 range)"]
    lines.append(f"  {'config':<12}" + "".join(f"{name:>34}" for name in names_))
    for config, runs in results.items():
        cells = []
        for name in names_:
            p50s = sorted(p.percentile(0.5) for run in runs for p in run if p.name == name)
            p99s = sorted(p.percentile(0.99) for run in runs for p in run if p.name == name)
            cell = f"{statistics.median(p50s):.1f} / {statistics.median(p99s):.1f} ({p99s[0]:.0f}-{p99s[-1]:.0f})"
            cells.append(f"{cell:>34}")
        lines.append(f"  {config:<12}" + "".join(cells))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="deliveries per phase (default 200)")
    parser.add_argument("--rate", type=float, default=500.0, help="open-loop arrivals per second (default 500)")
    parser.add_argument(
        "--configs",
        default="noop:1,fast:1,fast:2,send_task:1",
        help="queue:workers,... (queue: fast, send_task or noop)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="run every configuration this many times (default 1)")
    parser.add_argument("--out", type=Path, help="also write the figures here (a Markdown code block)")
    args = parser.parse_args()

    template, source = _template()
    size = len(_payload(template, 1))
    header = [
        f"payload: {source}, {size} bytes; {args.n} deliveries per phase; new connection per delivery",
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
    ]
    print("\n".join(header), flush=True)
    lines, ok = list(header), True
    results: dict[str, list[list[Phase]]] = {}
    for round_ in range(1, args.rounds + 1):
        # Configurations take turns within each round, so that a spell of load from elsewhere
        # on a shared machine does not fall on one of them only.
        for config in args.configs.split(","):
            queue, _, workers = config.partition(":")
            block, passed, phases = run_config(queue, int(workers or 1), args.n, args.rate, template)
            block[0] = f"round {round_} " + block[0]
            print("\n".join(block), flush=True)
            lines += block
            ok = ok and passed
            results.setdefault(config, []).append(phases)
    summary = _summary(results, args.rounds)
    print("\n".join(summary))
    lines += summary
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines.append(f"load average at the end: {load}")
    print(lines[-1])
    if args.out:
        args.out.write_text("```\n" + "\n".join(lines) + "\n```\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
