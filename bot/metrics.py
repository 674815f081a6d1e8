"""Prometheus metrics of the webhook receiver, on a registry per app so that apps built in tests
do not collide on the global one."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "WebhookMetrics"]


@dataclass
class WebhookMetrics:
    registry: CollectorRegistry
    deliveries: Counter
    enqueued: Counter
    latency: Histogram

    @classmethod
    def create(cls) -> WebhookMetrics:
        registry = CollectorRegistry(auto_describe=True)
        return cls(
            registry=registry,
            deliveries=Counter(
                "doppel_webhook_deliveries",
                "Webhook deliveries by event and outcome (accepted, ignored, duplicate, rejected_*).",
                ["event", "outcome"],
                registry=registry,
            ),
            enqueued=Counter(
                "doppel_tasks_enqueued", "Tasks enqueued by the webhook receiver.", ["task"], registry=registry
            ),
            latency=Histogram(
                "doppel_webhook_seconds",
                "Time to answer a webhook delivery.",
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
                registry=registry,
            ),
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
