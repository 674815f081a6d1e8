"""Celery app, tasks and the services they call (services are pure of Celery)."""
