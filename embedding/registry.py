"""Versioned adapters per repository and language, and which of them search uses.

Layout under the registry root::

    <root>/<repo collection name>/<language or shared>/<version>/
        adapter_config.json  adapter_model.safetensors  doppel.json  training_config.json
    <root>/<repo collection name>/current.json    {"adapters": {"python": "<version>", ...},
                                                   "collection": "<index collection>", "switched": "..."}

A version is ``v<n>-<sha8>``: a sequence number to read and the weights' hash so that it is
unique across repositories (embedding caches key vectors by it). ``doppel.json`` holds the base
model, data statistics, metrics of base and adapter, thresholds, creation time, source commit,
status (``candidate`` | ``promoted`` | ``rejected`` | ``retired``) and the gate's reason.

``current.json`` is the one pointer: the set of adapters and the collection built with them,
replaced atomically (write to a temporary file, fsync, ``os.replace``), so search never sees
adapters of one training run with vectors of another. What a pointer means for search (its
encoder, its collection, switching and dropping generations) is ``embedding.generation``'s. The promotion gate is a pure function over
paired bootstrap intervals (``embedding.evaluation.paired_bootstrap``) and false-alarm counts.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.domain import RepoRef
from core.errors import AdapterError

if TYPE_CHECKING:
    from embedding.evaluation import PairedBootstrap

METADATA_FILE = "doppel.json"
WEIGHTS_FILE = "adapter_model.safetensors"
POINTER_FILE = "current.json"
_VERSION = re.compile(r"^v(\d+)-[0-9a-f]{8}$")
STATUSES = ("candidate", "promoted", "rejected", "retired")


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str


@dataclass(frozen=True)
class AlarmCheck:
    """False alarms on genuinely new functions: the validation split's functions reviewed against
    their nearest non-copy neighbours, by the candidate's verdict and by the base model's."""

    candidate: int  # functions the candidate's verdict flags as duplicates
    base: int  # the same with the base model's vectors and verdict
    functions: int  # functions checked

    @property
    def raised(self) -> bool:
        return self.candidate > self.base

    def to_dict(self) -> dict[str, Any]:
        share = lambda n: round(n / self.functions, 4) if self.functions else 0.0  # noqa: E731
        return {
            "candidate": self.candidate,
            "base": self.base,
            "functions": self.functions,
            "candidate_rate": share(self.candidate),
            "base_rate": share(self.base),
        }


def promotion_gate(
    vs_base: PairedBootstrap,
    vs_current: PairedBootstrap | None,
    *,
    margin: float,
    alarms: AlarmCheck | None = None,
) -> GateDecision:
    """Promote only when the gain is more than noise and reviews get no looser.

    ``vs_base`` (``vs_current``): the paired bootstrap of the candidate's validation MRR against
    the base model's (the current adapter's); the lower end of its 95% interval must reach
    ``margin``. ``alarms``: the candidate may not flag more genuinely new functions as duplicates
    than the base model does."""
    refusals: list[str] = []
    if vs_base.queries == 0:
        refusals.append("no validation queries to compare the candidate with the base model on")
    elif not vs_base.clears(margin):
        refusals.append(
            f"against the base model, {vs_base.describe()}: the interval's lower end does not reach the margin {margin}"
        )
    if vs_current is not None and not vs_current.clears(margin):
        refusals.append(
            f"against the current adapter, {vs_current.describe()}: the interval's lower end does not reach "
            f"the margin {margin}"
        )
    if alarms is not None and alarms.raised:
        refusals.append(
            f"its verdict flags {alarms.candidate} of {alarms.functions} genuinely new validation functions as "
            f"duplicates, the base model {alarms.base}: reviews would get looser"
        )
    if refusals:  # every reason, so a report shows all that stands in the way
        return GateDecision(False, "; ".join(refusals))
    parts = [f"against the base model, {vs_base.describe()}"]
    if vs_current is not None:
        parts.append(f"against the current adapter, {vs_current.describe()}")
    if alarms is not None:
        parts.append(
            f"false alarms on {alarms.functions} genuinely new functions {alarms.candidate} (base model {alarms.base})"
        )
    return GateDecision(True, "; ".join(parts) + f"; every interval's lower end reaches the margin {margin}")


@dataclass(frozen=True)
class AdapterRecord:
    """One stored adapter version."""

    language: str
    version: str
    path: Path
    metadata: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.metadata.get("status", "candidate"))

    @property
    def validation_mrr(self) -> float | None:
        value = self.metadata.get("metrics", {}).get("validation", {}).get("adapter_mean_mrr")
        return float(value) if value is not None else None


@dataclass(frozen=True)
class Pointer:
    """What search uses for a repository: adapter versions per language and the collection built with them."""

    adapters: dict[str, str] = field(default_factory=dict)
    collection: str | None = None
    switched: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "adapters": dict(sorted(self.adapters.items())),
            "collection": self.collection,
            "switched": self.switched,
        }


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace ``path`` with ``data`` as JSON in one step: readers see the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class AdapterRegistry:
    """Adapter versions on disk for many repositories; see the module docstring for the layout."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # --- paths -------------------------------------------------------------------------------
    def repo_dir(self, repo: RepoRef) -> Path:
        return self.root / repo.collection_name

    def language_dir(self, repo: RepoRef, language: str) -> Path:
        if not re.fullmatch(r"[A-Za-z0-9_+-]+", language):
            raise AdapterError(f"adapter name {language!r} is not valid: use a language name or 'shared'")
        return self.repo_dir(repo) / language

    def staging_dir(self, repo: RepoRef, language: str) -> Path:
        """A fresh directory to save a trained adapter into before ``register`` files it."""
        parent = self.language_dir(repo, language)
        parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".staging-", dir=parent))

    # --- versions ----------------------------------------------------------------------------
    def versions(self, repo: RepoRef, language: str) -> list[AdapterRecord]:
        """Every stored version of a language's adapter, oldest first."""
        directory = self.language_dir(repo, language)
        if not directory.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in directory.iterdir() if p.is_dir() and (m := _VERSION.match(p.name))]
        return [self._record(language, p) for _, p in sorted(found)]

    def record(self, repo: RepoRef, language: str, version: str) -> AdapterRecord:
        path = self.language_dir(repo, language) / version
        if not (path / METADATA_FILE).is_file():
            raise AdapterError(f"no adapter {language}@{version} for {repo.slug} under {self.root}")
        return self._record(language, path)

    def _record(self, language: str, path: Path) -> AdapterRecord:
        metadata = json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))
        return AdapterRecord(language=language, version=path.name, path=path, metadata=metadata)

    def register(self, repo: RepoRef, language: str, staged: Path, metadata: dict[str, Any]) -> AdapterRecord:
        """File a saved adapter (``staged``: peft files + doppel.json) as the next version, status ``candidate``."""
        weights = staged / WEIGHTS_FILE
        if not weights.is_file():
            raise AdapterError(f"{staged} holds no {WEIGHTS_FILE}; save the adapter with safetensors first")
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:8]
        directory = self.language_dir(repo, language)
        existing = [int(m.group(1)) for p in directory.iterdir() if (m := _VERSION.match(p.name))]
        number = max(existing, default=0) + 1
        while True:
            version = f"v{number:04d}-{digest}"
            try:
                os.rename(staged, directory / version)  # fails if a concurrent run took the number
                break
            except OSError:
                number += 1
        path = directory / version
        stored = (
            json.loads((path / METADATA_FILE).read_text(encoding="utf-8")) if (path / METADATA_FILE).is_file() else {}
        )
        document = {
            **stored,
            **metadata,
            "version": version,
            "language": language,
            "repo": repo.slug,
            "status": "candidate",
            "created": metadata.get("created") or _now(),
        }
        write_json_atomic(path / METADATA_FILE, document)
        return self._record(language, path)

    def set_status(
        self, repo: RepoRef, language: str, version: str, status: str, reason: str | None = None
    ) -> AdapterRecord:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        record = self.record(repo, language, version)
        document = {**record.metadata, "status": status, "status_changed": _now()}
        if reason is not None:
            document["gate"] = reason
        write_json_atomic(record.path / METADATA_FILE, document)
        return self._record(language, record.path)

    # --- the pointer -------------------------------------------------------------------------
    def pointer(self, repo: RepoRef) -> Pointer:
        path = self.repo_dir(repo) / POINTER_FILE
        if not path.is_file():
            return Pointer()
        data = json.loads(path.read_text(encoding="utf-8"))
        return Pointer(
            adapters=dict(data.get("adapters", {})), collection=data.get("collection"), switched=data.get("switched")
        )

    def current(self, repo: RepoRef, language: str) -> AdapterRecord | None:
        version = self.pointer(repo).adapters.get(language)
        return self.record(repo, language, version) if version else None

    def switch(self, repo: RepoRef, adapters: dict[str, str], collection: str | None) -> Pointer:
        """Point search at ``adapters`` (language → version) and ``collection`` in one atomic write.

        Newly pointed-at versions become ``promoted``; versions no longer pointed at ``retired``.
        """
        for language, version in adapters.items():
            self.record(repo, language, version)  # raises when missing
        before = self.pointer(repo)
        pointer = Pointer(adapters=dict(adapters), collection=collection, switched=_now())
        write_json_atomic(self.repo_dir(repo) / POINTER_FILE, pointer.to_dict())
        for language, version in adapters.items():
            if before.adapters.get(language) != version:
                self.set_status(repo, language, version, "promoted")
        for language, version in before.adapters.items():
            if adapters.get(language) != version:
                try:
                    self.set_status(repo, language, version, "retired")
                except AdapterError:
                    pass  # a version deleted by hand: nothing to mark
        return pointer

    def discard_staging(self, staged: Path) -> None:
        shutil.rmtree(staged, ignore_errors=True)
