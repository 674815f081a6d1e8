"""The webhook receiver against slow and unsigned bodies: how many connections it closes, and how soon.

Starts the real ``doppel serve`` on 127.0.0.1 (a free port) and opens ``--n`` connections at
once, each of which sends its headers (``Content-Length: 100000``) and one byte of body, then
nothing. Three rounds:

* slow signed: a well-formed ``X-Hub-Signature-256``, so the receiver waits for the body; it
  must answer 408 and close each connection once ``DOPPEL_WEBHOOK_BODY_TIMEOUT_SECONDS`` pass;
* slow unsigned: no signature header; refused (401) and closed before the body is read;
* over the limit: the slow signed round again against a server started with
  ``DOPPEL_WEBHOOK_MAX_CONCURRENCY`` below ``--n``; the excess is answered 503 at once.

A connection counts as closed when the server ends it (EOF) within the timeout plus
``--grace`` seconds; every socket is given up after that, so the script stops by itself.
Before the fix (issue 10's probe of ``doppel serve``) 0 of 50 slow-body connections were closed.

    .venv/bin/python benchmarks/bench_receiver_hostile.py [--n 50] [--timeout 2] [--grace 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEBHOOK_PATH = "/github/webhook"
BEFORE_CLOSED = 0  # issue 10: "The server never closes slow-body connections: 50 of 50 stayed open."


@dataclass(frozen=True)
class Outcome:
    closed: bool  # the server ended the connection within the allowance
    status: str  # the status code it answered with, or "-" for none
    seconds: float  # from the last byte sent to the server's close (or to giving up)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve(*, timeout: float, max_concurrency: int) -> Iterator[int]:
    """``doppel serve`` in a child process with the given limits, on a free port (yielded); stopped on exit."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOPPEL_")}
    env.update(
        DOPPEL_GITHUB_WEBHOOK_SECRET="bench-" + uuid.uuid4().hex,
        DOPPEL_REDIS_URL="redis://127.0.0.1:6379/14",
        DOPPEL_WEBHOOK_BODY_TIMEOUT_SECONDS=str(timeout),
        DOPPEL_WEBHOOK_MAX_CONCURRENCY=str(max_concurrency),
    )
    doppel = Path(sys.executable).with_name("doppel")
    command = [str(doppel), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit("doppel serve exited: " + (process.stderr.read() if process.stderr else b"").decode())
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if conn.recv(64).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("doppel serve did not answer /healthz within 60 s")
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def slow_body(port: int, *, signed: bool, allowance: float) -> Outcome:
    """One connection that sends its headers and one byte of a 100,000-byte body, then waits."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    signature = f"X-Hub-Signature-256: sha256={'0' * 64}\r\n" if signed else ""
    head = (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: 100000\r\nX-GitHub-Event: ping\r\nX-GitHub-Delivery: {uuid.uuid4()}\r\n{signature}\r\n"
    )
    writer.write(head.encode() + b"{")
    await writer.drain()
    started = time.perf_counter()
    received = b""
    try:
        async with asyncio.timeout(allowance):
            while chunk := await reader.read(65536):
                received += chunk
        closed = True
    except TimeoutError:
        closed = False
    except ConnectionError:  # a reset is a close too
        closed = True
    finally:
        writer.close()
    status = received.split(b" ", 2)[1].decode() if received.startswith(b"HTTP/1.1 ") else "-"
    return Outcome(closed, status, time.perf_counter() - started)


async def round_of(port: int, n: int, *, signed: bool, allowance: float) -> list[Outcome]:
    return list(await asyncio.gather(*(slow_body(port, signed=signed, allowance=allowance) for _ in range(n))))


def report(name: str, outcomes: list[Outcome], allowance: float) -> None:
    closed = [o for o in outcomes if o.closed]
    statuses = ", ".join(f"{status}×{count}" for status, count in sorted(Counter(o.status for o in outcomes).items()))
    slowest = max((o.seconds for o in closed), default=float("nan"))
    print(
        f"{name:<16} closed within {allowance:.1f} s: {len(closed):>3} of {len(outcomes)}   "
        f"answers: {statuses:<14} slowest close: {slowest:.2f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50, help="connections per round (default 50)")
    parser.add_argument("--timeout", type=float, default=2.0, help="DOPPEL_WEBHOOK_BODY_TIMEOUT_SECONDS (default 2)")
    parser.add_argument(
        "--grace", type=float, default=2.0, help="seconds past the timeout a close may take (default 2)"
    )
    args = parser.parse_args()
    allowance = args.timeout + args.grace

    print(f"doppel serve on 127.0.0.1, {args.n} slow-body connections per round, body timeout {args.timeout:g} s")
    with serve(timeout=args.timeout, max_concurrency=max(200, 2 * args.n)) as port:
        signed = asyncio.run(round_of(port, args.n, signed=True, allowance=allowance))
        unsigned = asyncio.run(round_of(port, args.n, signed=False, allowance=allowance))
    limit = max(1, args.n // 2)
    with serve(timeout=args.timeout, max_concurrency=limit) as port:
        over = asyncio.run(round_of(port, args.n, signed=True, allowance=allowance))

    print(f"{'before (issue 10)':<16} closed: {BEFORE_CLOSED:>3} of 50   (the server never closed a slow body)")
    report("slow signed", signed, allowance)
    report("slow unsigned", unsigned, allowance)
    report(f"limit {limit}", over, allowance)
    return 0


if __name__ == "__main__":
    sys.exit(main())
