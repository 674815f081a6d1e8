"""The Celery app: Redis broker, JSON only, late acks, two queues (``gpu`` and ``io``), beat.

``celery -A workers.celery_app worker -Q gpu`` runs the encoder-bound tasks; ``-Q io`` the ones
that only talk to GitHub or Redis. Late acks with ``task_reject_on_worker_lost`` put a task back
on the queue when its worker dies mid-way, which is why every task must be safe to run twice.
Producers (the webhook process) build the app with ``include_tasks=False`` and use
``send_task`` by name, so they never import task code.
"""

from __future__ import annotations

from celery import Celery
from celery.schedules import crontab
from kombu import Queue

from core.settings import Settings, get_settings
from workers.tasks import names

TASK_MODULES = ("workers.tasks.review", "workers.tasks.repository", "workers.tasks.schedule", "workers.tasks.feedback")


def create_celery(settings: Settings, *, include_tasks: bool = True) -> Celery:
    """A Celery app configured from ``settings`` (tasks registered only when ``include_tasks``)."""
    app = Celery("doppel", broker=settings.redis_url, backend=settings.redis_url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One task at a time per worker process: a GPU worker must not hoard reviews it cannot
        # start, and io workers can raise it from the command line (--prefetch-multiplier).
        worker_prefetch_multiplier=1,
        task_queues=tuple(Queue(name) for name in names.QUEUES),
        task_default_queue=names.QUEUE_IO,
        task_routes={task: {"queue": queue} for task, queue in names.ROUTES.items()},
        # With late acks on Redis an unacked task is re-delivered after this long: it must
        # outlast the longest task (a first full index or a retrain).
        broker_transport_options={"visibility_timeout": settings.broker_visibility_timeout_seconds},
        broker_connection_retry_on_startup=True,
        result_expires=24 * 3600,
        task_track_started=True,
        timezone="UTC",
        enable_utc=True,
        beat_schedule={
            "nightly-retrain": {
                "task": names.NIGHTLY_RETRAIN,
                "schedule": crontab(hour=settings.retrain_hour_utc, minute=0),
            },
            "reconcile-open-pulls": {
                "task": names.RECONCILE_OPEN_PULLS,
                "schedule": float(settings.reconcile_interval_seconds),
            },
        },
    )
    if include_tasks:
        app.conf.include = list(TASK_MODULES)
    app.conf.doppel_settings = settings
    return app


app = create_celery(get_settings())
