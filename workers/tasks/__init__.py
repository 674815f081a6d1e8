"""Celery tasks: thin edges that parse keyword-only JSON arguments and call one service.

Importing this package imports nothing; the task modules are loaded by the worker through the
Celery app's ``include`` list, and producers refer to tasks by the names in ``names``.
"""
