"""Task names and queues, shared by producers (the webhook process, the CLI, beat) and workers.

Producers enqueue with ``send_task(name, kwargs=...)`` so that they never import task code
(and with it git or torch). Queues: ``gpu`` for work that runs the encoder (review, similar,
indexing, training), ``io`` for work that only talks to GitHub, Redis or the index store.
"""

from __future__ import annotations

QUEUE_GPU = "gpu"
QUEUE_IO = "io"
QUEUES = (QUEUE_GPU, QUEUE_IO)

REVIEW_PULL_REQUEST = "doppel.review_pull_request"
SIMILAR_COMMAND = "doppel.similar_command"
REPLY_COMMAND = "doppel.reply_command"
INDEX_PUSH = "doppel.index_push"
INDEX_REPOSITORY = "doppel.index_repository"
DROP_REPOSITORY = "doppel.drop_repository"
RETRAIN_REPOSITORY = "doppel.retrain_repository"
NIGHTLY_RETRAIN = "doppel.nightly_retrain"
RECONCILE_OPEN_PULLS = "doppel.reconcile_open_pulls"
RECORD_THREAD_FEEDBACK = "doppel.record_thread_feedback"

ROUTES: dict[str, str] = {
    REVIEW_PULL_REQUEST: QUEUE_GPU,
    SIMILAR_COMMAND: QUEUE_GPU,
    INDEX_PUSH: QUEUE_GPU,
    INDEX_REPOSITORY: QUEUE_GPU,
    RETRAIN_REPOSITORY: QUEUE_GPU,
    REPLY_COMMAND: QUEUE_IO,
    DROP_REPOSITORY: QUEUE_IO,
    NIGHTLY_RETRAIN: QUEUE_IO,
    RECONCILE_OPEN_PULLS: QUEUE_IO,
    RECORD_THREAD_FEEDBACK: QUEUE_IO,
}
