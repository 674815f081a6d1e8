"""The production Celery app with a short broker visibility timeout, for the end-to-end tests.

With late acks on Redis, a task whose worker died unacknowledged is handed out again once the
visibility timeout has passed since its delivery; production waits hours (``workers.celery_app``),
the test that kills a worker cannot. ``celery -A tests.e2e.worker_app worker`` runs it.
"""

from __future__ import annotations

from workers.celery_app import app

VISIBILITY_TIMEOUT_S = 15

app.conf.broker_transport_options = {**app.conf.broker_transport_options, "visibility_timeout": VISIBILITY_TIMEOUT_S}

__all__ = ["app"]
