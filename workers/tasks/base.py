"""The one piece of Celery glue every task shares: run a flow, retry it on transient errors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from celery import Task

from core.settings import Settings
from workers.tasks.retry import is_transient, retry_delay
from workers.tasks.runtime import Runtime, load_runtime

log = logging.getLogger(__name__)
T = TypeVar("T")


def settings_of(task: Task) -> Settings:
    settings: Settings = task.app.conf.doppel_settings
    return settings


def runtime_of(task: Task) -> Runtime:
    return load_runtime(settings_of(task))


def run_flow(task: Task, flow: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``flow(runtime, *args, **kwargs)`` (a job flow of ``workers.services.flows`` and its
    typed job); a transient error becomes a Celery retry with capped backoff (or the server's
    Retry-After), anything else fails the task."""
    settings = settings_of(task)
    try:
        return flow(runtime_of(task), *args, **kwargs)
    except Exception as exc:
        if not is_transient(exc) or task.request.retries >= settings.task_max_retries:
            raise
        delay = retry_delay(exc, task.request.retries, cap=settings.retry_backoff_max_seconds)
        log.warning("task.retry name=%s attempt=%d delay=%.1fs: %s", task.name, task.request.retries + 1, delay, exc)
        raise task.retry(exc=exc, countdown=delay, max_retries=settings.task_max_retries) from exc
