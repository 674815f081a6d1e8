"""The production Celery app with a short broker visibility timeout, for the end-to-end tests.

With late acks on Redis, a task whose worker died unacknowledged is handed out again once the
visibility timeout has passed since its delivery and a worker's periodic sweep finds it;
production waits hours (``workers.celery_app``), the test that kills a worker cannot. The sweep
runs every second here (kombu's default: every 10 x 10 s). The pool must be ``solo``: it blocks
the sweep while a task runs, so a task that outlasts the timeout is not handed out twice.
``celery -A tests.e2e.worker_app worker --pool=solo`` runs it.
"""

from __future__ import annotations

from workers.celery_app import app

VISIBILITY_TIMEOUT_S = 15

app.conf.broker_transport_options = {
    **app.conf.broker_transport_options,
    "visibility_timeout": VISIBILITY_TIMEOUT_S,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}

__all__ = ["app"]
