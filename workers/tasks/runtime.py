"""Building the workers' ``Runtime`` (``workers.services.ports``) once per worker process:
the production wiring (``workers.tasks.production``) or whatever ``DOPPEL_WORKER_RUNTIME`` names
(``module:function``), which is how integration tests run the real tasks against fakes.
"""

from __future__ import annotations

import importlib
import threading

from core.errors import ConfigError
from core.settings import Settings
from workers.services.ports import Runtime

_lock = threading.Lock()
_runtime: Runtime | None = None


def load_runtime(settings: Settings) -> Runtime:
    """The process's runtime, built on first use from ``settings.worker_runtime`` or production."""
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = _build(settings)
        return _runtime


def _build(settings: Settings) -> Runtime:
    target = settings.worker_runtime or "workers.tasks.production:build_runtime"
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"DOPPEL_WORKER_RUNTIME must look like 'package.module:function', got {target!r}")
    factory = getattr(importlib.import_module(module_name), attr)
    runtime: Runtime = factory(settings)
    return runtime
