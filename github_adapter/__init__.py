"""The GitHub side both edges use: App auth, the REST client, repository clones, diff anchors,
comment rendering and publishing a review. It sits below ``bot/`` and ``workers/``, imports only
``core/`` (and PyGithub, httpx, GitPython), and knows nothing of Celery or FastAPI.

It is not called ``github`` because that is the import name of PyGithub, which ``client.py`` wraps.
"""
