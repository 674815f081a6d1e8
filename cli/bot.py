"""``doppel serve``, ``doppel worker`` and ``doppel beat``: the GitHub bot's processes.

Each reads the bot settings once and starts one long-running process; none of them loads a
model in this process (the worker loads one lazily, in the tasks that need it).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from workers.tasks.names import QUEUES

if TYPE_CHECKING:
    from core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "serve",
        help="run the webhook receiver (FastAPI on uvicorn)",
        description="Receive GitHub webhooks at POST /github/webhook, check them and queue the work. "
        "Needs DOPPEL_GITHUB_WEBHOOK_SECRET and DOPPEL_REDIS_URL.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="uvicorn worker processes (default: 1). One process answers a delivery in about 1 ms of CPU; "
        "add one per extra core you give the receiver (see benchmarks/results/webhook.md)",
    )
    p.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="do not log a line per request (uvicorn's access log, on by default)",
    )
    p.set_defaults(handler=run_serve)

    p = subparsers.add_parser(
        "worker",
        help="run a Celery worker for the bot's queues",
        description="Run the tasks queued by the receiver and by beat. Run one worker per GPU on "
        "'gpu' (reviews, indexing, training) and any number on 'io' (GitHub replies, bookkeeping).",
    )
    p.add_argument("--queues", default=",".join(QUEUES), help=f"comma-separated queues (default: {','.join(QUEUES)})")
    p.add_argument("--concurrency", type=int, help="processes or threads (default: Celery's, the CPU count)")
    p.add_argument("--pool", default=None, help="Celery pool: prefork (default), threads or solo")
    p.add_argument("--prefetch-multiplier", type=int, help="tasks reserved per process (default 1)")
    p.add_argument("--loglevel", default="INFO", help="Celery log level: DEBUG, INFO, WARNING or ERROR (default: INFO)")
    p.set_defaults(handler=run_worker)

    p = subparsers.add_parser(
        "beat",
        help="run Celery beat (nightly retrain, open-PR reconciler)",
        description="Queue the periodic tasks: the nightly retrain of every served repository "
        "(DOPPEL_RETRAIN_HOUR_UTC) and the reconciler (every DOPPEL_RECONCILE_INTERVAL_SECONDS).",
    )
    p.add_argument("--loglevel", default="INFO", help="Celery log level: DEBUG, INFO, WARNING or ERROR (default: INFO)")
    p.add_argument("--schedule", help="file for beat's schedule state (default: Celery's)")
    p.set_defaults(handler=run_beat)


def uvicorn_options(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """The keyword arguments ``doppel serve`` gives ``uvicorn.run``: the address from the command
    line, and the connection limit and keep-alive timeout from settings (the body read timeout
    is the app's own). Pure, so that a test can build the ``uvicorn.Config`` they make."""
    return {
        "factory": True,
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "access_log": args.access_log,
        "limit_concurrency": settings.webhook_max_concurrency,
        "timeout_keep_alive": settings.webhook_keep_alive_seconds,
    }


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.app import webhook_secret
    from core.settings import get_settings

    settings = get_settings()
    webhook_secret(settings)  # refuse now, with the reason, rather than inside uvicorn
    if args.workers < 1:
        from core.errors import ConfigError

        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    uvicorn.run("bot.app:create_app", **uvicorn_options(args, settings))
    return 0


def run_worker(args: argparse.Namespace) -> int:
    from workers.celery_app import app

    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    unknown = sorted(set(queues) - set(QUEUES))
    if unknown:
        from core.errors import ConfigError

        raise ConfigError(f"unknown queue(s) {', '.join(unknown)}: choose from {', '.join(QUEUES)}")
    argv = ["worker", f"--queues={','.join(queues)}", f"--loglevel={args.loglevel}"]
    if args.concurrency:
        argv.append(f"--concurrency={args.concurrency}")
    if args.pool:
        argv.append(f"--pool={args.pool}")
    if args.prefetch_multiplier:
        argv.append(f"--prefetch-multiplier={args.prefetch_multiplier}")
    app.worker_main(argv)
    return 0


def run_beat(args: argparse.Namespace) -> int:
    from workers.celery_app import app

    argv = ["beat", f"--loglevel={args.loglevel}"]
    if args.schedule:
        argv.append(f"--schedule={args.schedule}")
    app.start(argv)
    return 0
