"""What reviewers said about doppel's findings, kept per repository: the store behind feedback.

When doppel posts an inline comment it remembers the pair behind it (``PublishedPair``: the
changed function as the pull request's head had it, and the matched function at the base, with
their code), keyed by the finding's fingerprint, the one in the comment's hidden marker. Later,
votes arrive for that fingerprint: 👍/👎 reactions on the comment (polled, GitHub sends no
webhook for them) and "resolved" on its thread (the ``pull_request_review_thread`` webhook).
``label_of`` turns a fingerprint's votes into a label; ``labelled()`` lists the labelled pairs
the nightly training and the verdict refit learn from.

Two implementations with one contract (``tests/unit/test_feedback_store.py`` runs the same
assertions on both): ``SqliteFeedbackStore``, one small SQLite file per repository under
``DATA_DIR/feedback/`` (WAL mode, like the embedding cache: every worker shares the data volume,
and the file goes with the repository when it is dropped), and ``MemoryFeedbackStore``, its
in-process twin for tests.

Everything in it came from GitHub or from code under review, so every part is bounded: pairs per
repository (``max_pairs``; the oldest pairs nobody voted on make room, and when every pair carries
a vote new ones are refused), pairs per pull request (``max_pairs_per_pull``), voters per comment
(``MAX_VOTERS``), the code kept per side (``MAX_CODE_CHARS``; a longer function is not
remembered), and the lengths of every name.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from core.domain import RepoRef

log = logging.getLogger(__name__)

MAX_CODE_CHARS = 20_000  # a side's code kept at most (training drops pairs far shorter than this)
MAX_NAME_CHARS = 512  # paths, qualified names, commits, languages
MAX_VOTERS = 50  # distinct voters counted per comment and kind of vote
MAX_LOGIN_CHARS = 39  # GitHub's own limit on logins
FINGERPRINT = re.compile(r"[0-9a-f]{16}")  # core.domain.Finding.fingerprint: 16 hex digits
# Logins as GitHub allows them (letters, digits, single hyphens), plus an App's "[bot]" suffix.
LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?")

VoteSource = Literal["reaction", "resolved"]


class FeedbackInputError(ValueError):
    """A record handed to the store is malformed (a bad fingerprint, login, or oversized field)."""


@dataclass(frozen=True)
class PairSide:
    """One function of a reviewed pair, as doppel saw it: enough to train on it and to find it again."""

    language: str
    path: str
    qualified_name: str
    commit: str
    body_hash: str
    code: str

    def __post_init__(self) -> None:
        for name in ("language", "path", "qualified_name", "commit", "body_hash"):
            value = getattr(self, name)
            if not isinstance(value, str) or len(value) > MAX_NAME_CHARS:
                raise FeedbackInputError(f"PairSide.{name} must be a string of at most {MAX_NAME_CHARS} characters")
        if not isinstance(self.code, str) or len(self.code) > MAX_CODE_CHARS:
            raise FeedbackInputError(f"PairSide.code must be a string of at most {MAX_CODE_CHARS} characters")

    @property
    def key(self) -> str:
        """The function's identity in the repository (``embedding.training.pairs.function_key``)."""
        return f"{self.path}::{self.qualified_name}"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PairSide:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class PublishedPair:
    """The pair behind one inline comment doppel posted on pull request ``pull``."""

    fingerprint: str
    pull: int
    function: PairSide  # the changed function, at the pull request's head
    target: PairSide  # what it resembles, at the base
    kind: str = "duplicate"
    score: float = 0.0
    published_at: float = 0.0

    def __post_init__(self) -> None:
        check_fingerprint(self.fingerprint)
        check_pull(self.pull)


@dataclass(frozen=True)
class Vote:
    """One person's say on one comment: ``value`` +1 (a true duplicate or related) or -1 (not)."""

    login: str
    value: int
    source: VoteSource = "reaction"


@dataclass(frozen=True)
class FeedbackPair:
    """A published pair with the label its votes give (``label_of``)."""

    pair: PublishedPair
    positive: bool
    ups: int = 0
    downs: int = 0
    resolved: bool = False

    @property
    def reason(self) -> str:
        if not self.positive:
            return "thumbs_down"
        return "thumbs_up" if self.ups > self.downs else "resolved"


@dataclass(frozen=True)
class FeedbackCounts:
    """How many pairs a repository has: remembered, and labelled either way."""

    published: int = 0
    positives: int = 0
    negatives: int = 0

    @property
    def labelled(self) -> int:
        return self.positives + self.negatives

    def to_dict(self) -> dict[str, int]:
        return {**asdict(self), "labelled": self.labelled}


@dataclass(frozen=True)
class StoreLimits:
    """How much one repository's store holds (``Settings.feedback_max_pairs`` and ``_per_pull``)."""

    max_pairs: int = 2000
    max_pairs_per_pull: int = 50

    def __post_init__(self) -> None:
        if self.max_pairs < 1 or self.max_pairs_per_pull < 1:
            raise ValueError(
                f"StoreLimits need max_pairs and max_pairs_per_pull ≥ 1, got {self.max_pairs}, {self.max_pairs_per_pull}"
            )


def check_fingerprint(value: object) -> str:
    if not isinstance(value, str) or FINGERPRINT.fullmatch(value) is None:
        raise FeedbackInputError(f"a finding's fingerprint is 16 lowercase hex digits, got {str(value)[:40]!r}")
    return value


def check_pull(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**31:
        raise FeedbackInputError(f"a pull request number is a positive integer, got {str(value)[:40]!r}")
    return value


def valid_login(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_LOGIN_CHARS + 5 and LOGIN.fullmatch(value) is not None


def label_of(votes: Sequence[Vote]) -> tuple[bool | None, int, int, bool]:
    """(label, 👍, 👎, resolved) of one fingerprint's votes. Pure.

    Reactions count per person: someone who put both 👍 and 👎 counts for neither. More 👎 than
    👍: a negative (doppel was wrong). More 👍 than 👎: a positive. A resolved thread is a
    positive (the reviewer acted on the finding) unless someone said 👎; a tie with votes on both
    sides is no label at all."""
    per_login: dict[str, int] = {}
    resolved = False
    for vote in votes:
        if vote.source == "resolved":
            resolved = resolved or vote.value > 0
        else:
            per_login[vote.login] = per_login.get(vote.login, 0) + (1 if vote.value > 0 else -1)
    ups = sum(1 for v in per_login.values() if v > 0)
    downs = sum(1 for v in per_login.values() if v < 0)
    if downs > ups:
        return False, ups, downs, resolved
    if ups > downs:
        return True, ups, downs, resolved
    if resolved and downs == 0:
        return True, ups, downs, resolved
    return None, ups, downs, resolved


def _labelled(pairs: Sequence[PublishedPair], votes: Mapping[str, list[Vote]]) -> list[FeedbackPair]:
    """One labelled pair per fingerprint (its earliest publication), votes of every pull request
    that showed it together."""
    first: dict[str, PublishedPair] = {}
    for pair in sorted(pairs, key=lambda p: (p.published_at, p.pull)):
        first.setdefault(pair.fingerprint, pair)
    out: list[FeedbackPair] = []
    for fingerprint, pair in first.items():
        label, ups, downs, resolved = label_of(votes.get(fingerprint, []))
        if label is not None:
            out.append(FeedbackPair(pair, label, ups, downs, resolved))
    return out


def _counts(pairs: Sequence[PublishedPair], labelled: Sequence[FeedbackPair]) -> FeedbackCounts:
    return FeedbackCounts(
        published=len({p.fingerprint for p in pairs}),
        positives=sum(1 for p in labelled if p.positive),
        negatives=sum(1 for p in labelled if not p.positive),
    )


def _checked_votes(votes: Sequence[Vote], source: VoteSource) -> list[Vote]:
    """Votes of valid logins, each (login, value) once, from at most ``MAX_VOTERS`` logins, all
    of ``source``. A malformed vote raises: the caller validates what GitHub sent before this."""
    kept: dict[tuple[str, int], Vote] = {}
    logins: set[str] = set()
    for vote in votes:
        if not valid_login(vote.login) or vote.value not in (1, -1):
            raise FeedbackInputError(f"a vote needs a GitHub login and a value of ±1, got {str(vote.login)[:50]!r}")
        login = vote.login.lower()
        if login not in logins and len(logins) >= MAX_VOTERS:
            continue
        logins.add(login)
        kept.setdefault((login, vote.value), Vote(login, vote.value, source))
    return list(kept.values())


class FeedbackStore(ABC):
    """One repository's published pairs and the votes on them (see the module docstring)."""

    limits: StoreLimits

    @abstractmethod
    def remember(self, pairs: Sequence[PublishedPair]) -> int:
        """Record the pairs of newly posted comments; returns how many were added (a pair already
        known for its pull request is kept as it was; past a cap, pairs are refused)."""

    @abstractmethod
    def published(self, pull: int | None = None) -> list[PublishedPair]:
        """Remembered pairs, of one pull request or all, oldest first."""

    @abstractmethod
    def pulls(self, *, since: float = 0.0, limit: int = 50) -> list[int]:
        """Pull requests with pairs published at or after ``since``, most recent first, at most ``limit``."""

    @abstractmethod
    def set_votes(self, pull: int, fingerprint: str, source: VoteSource, votes: Sequence[Vote]) -> bool:
        """Replace the ``source`` votes on the comment of ``fingerprint`` in ``pull`` (a poll sees
        every reaction there is, so a withdrawn one goes). False when no such pair is remembered."""

    @abstractmethod
    def votes(self) -> dict[str, list[Vote]]:
        """Every vote, by fingerprint."""

    @abstractmethod
    def drop(self) -> None:
        """Forget everything (the repository was uninstalled)."""

    def labelled(self) -> list[FeedbackPair]:
        """The pairs whose votes give a label (``label_of``), one per fingerprint."""
        return _labelled(self.published(), self.votes())

    def counts(self) -> FeedbackCounts:
        pairs = self.published()
        return _counts(pairs, _labelled(pairs, self.votes()))

    def close(self) -> None:  # noqa: B027 - nothing to release unless an implementation holds a file
        """Release what the store holds open."""


class MemoryFeedbackStore(FeedbackStore):
    """The in-process twin of ``SqliteFeedbackStore``, for tests: same contract, nothing on disk."""

    def __init__(self, limits: StoreLimits | None = None, *, clock: Any = time.time) -> None:
        self.limits = limits or StoreLimits()
        self._clock = clock
        self._pairs: dict[tuple[str, int], PublishedPair] = {}
        self._votes: dict[tuple[str, int, str], list[Vote]] = {}
        self._lock = threading.Lock()

    def remember(self, pairs: Sequence[PublishedPair]) -> int:
        added = 0
        with self._lock:
            for pair in pairs:
                key = (pair.fingerprint, pair.pull)
                if key in self._pairs:
                    continue
                if sum(1 for _, pull in self._pairs if pull == pair.pull) >= self.limits.max_pairs_per_pull:
                    log.info("feedback.pull_full pull=%d", pair.pull)
                    continue
                if len(self._pairs) >= self.limits.max_pairs and not self._evict_one():
                    log.info("feedback.store_full pairs=%d", len(self._pairs))
                    continue
                self._pairs[key] = replace(pair, published_at=pair.published_at or self._clock())
                added += 1
        return added

    def _evict_one(self) -> bool:
        """Forget the oldest pair nobody voted on; False when every pair carries a vote."""
        voted = {(fp, pull) for (fp, pull, _), votes in self._votes.items() if votes}
        for key, _ in sorted(self._pairs.items(), key=lambda kv: (kv[1].published_at, kv[1].pull)):
            if key not in voted:
                del self._pairs[key]
                return True
        return False

    def published(self, pull: int | None = None) -> list[PublishedPair]:
        with self._lock:
            found = [p for p in self._pairs.values() if pull is None or p.pull == pull]
        return sorted(found, key=lambda p: (p.published_at, p.pull, p.fingerprint))

    def pulls(self, *, since: float = 0.0, limit: int = 50) -> list[int]:
        latest: dict[int, float] = {}
        with self._lock:
            for pair in self._pairs.values():
                if pair.published_at >= since:
                    latest[pair.pull] = max(pair.published_at, latest.get(pair.pull, 0.0))
        return [pull for pull, _ in sorted(latest.items(), key=lambda kv: (-kv[1], -kv[0]))][: max(0, limit)]

    def set_votes(self, pull: int, fingerprint: str, source: VoteSource, votes: Sequence[Vote]) -> bool:
        check_fingerprint(fingerprint)
        check_pull(pull)
        kept = _checked_votes(votes, source)
        with self._lock:
            if (fingerprint, pull) not in self._pairs:
                return False
            self._votes[(fingerprint, pull, source)] = kept
        return True

    def votes(self) -> dict[str, list[Vote]]:
        out: dict[str, list[Vote]] = {}
        with self._lock:
            for (fingerprint, pull, _), votes in sorted(self._votes.items()):
                if (fingerprint, pull) in self._pairs:
                    out.setdefault(fingerprint, []).extend(votes)
        return out

    def drop(self) -> None:
        with self._lock:
            self._pairs.clear()
            self._votes.clear()


_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS published (
        fingerprint TEXT NOT NULL,
        pull INTEGER NOT NULL,
        published_at REAL NOT NULL,
        kind TEXT NOT NULL,
        score REAL NOT NULL,
        function TEXT NOT NULL,
        target TEXT NOT NULL,
        PRIMARY KEY (fingerprint, pull)
    )""",
    "CREATE INDEX IF NOT EXISTS published_pull ON published (pull, published_at)",
    """CREATE TABLE IF NOT EXISTS votes (
        fingerprint TEXT NOT NULL,
        pull INTEGER NOT NULL,
        source TEXT NOT NULL,
        login TEXT NOT NULL,
        value INTEGER NOT NULL,
        PRIMARY KEY (fingerprint, pull, source, login, value)
    )""",
)


class SqliteFeedbackStore(FeedbackStore):
    """One repository's feedback in one SQLite file (WAL mode), safe across worker processes.

    A connection per process and thread is opened lazily, as ``embedding.cache.EmbeddingCache``
    does, so an instance survives a fork. Each ``remember`` and ``set_votes`` is one transaction."""

    def __init__(
        self, path: Path, limits: StoreLimits | None = None, *, timeout: float = 30.0, clock: Any = time.time
    ) -> None:
        self.path = Path(path)
        self.limits = limits or StoreLimits()
        self.timeout = timeout
        self._clock = clock
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._transaction() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            self._local.conn = conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def remember(self, pairs: Sequence[PublishedPair]) -> int:
        added = 0
        with self._transaction() as conn:
            for pair in pairs:
                known = conn.execute(
                    "SELECT 1 FROM published WHERE fingerprint = ? AND pull = ?", (pair.fingerprint, pair.pull)
                ).fetchone()
                if known:
                    continue
                (in_pull,) = conn.execute("SELECT COUNT(*) FROM published WHERE pull = ?", (pair.pull,)).fetchone()
                if in_pull >= self.limits.max_pairs_per_pull:
                    log.info("feedback.pull_full pull=%d", pair.pull)
                    continue
                (total,) = conn.execute("SELECT COUNT(*) FROM published").fetchone()
                if total >= self.limits.max_pairs and not self._evict_one(conn):
                    log.info("feedback.store_full pairs=%d", total)
                    continue
                conn.execute(
                    "INSERT INTO published VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        pair.fingerprint,
                        pair.pull,
                        pair.published_at or self._clock(),
                        pair.kind[:40],
                        float(pair.score),
                        json.dumps(pair.function.to_dict()),
                        json.dumps(pair.target.to_dict()),
                    ),
                )
                added += 1
        return added

    @staticmethod
    def _evict_one(conn: sqlite3.Connection) -> bool:
        row = conn.execute(
            "SELECT fingerprint, pull FROM published p WHERE NOT EXISTS "
            "(SELECT 1 FROM votes v WHERE v.fingerprint = p.fingerprint AND v.pull = p.pull) "
            "ORDER BY published_at, pull LIMIT 1"
        ).fetchone()
        if row is None:
            return False
        conn.execute("DELETE FROM published WHERE fingerprint = ? AND pull = ?", row)
        return True

    def published(self, pull: int | None = None) -> list[PublishedPair]:
        query = "SELECT fingerprint, pull, published_at, kind, score, function, target FROM published"
        params: tuple[Any, ...] = ()
        if pull is not None:
            query, params = query + " WHERE pull = ?", (pull,)
        with self._transaction() as conn:
            rows = conn.execute(query + " ORDER BY published_at, pull, fingerprint", params).fetchall()
        return [
            PublishedPair(
                fingerprint=fp,
                pull=number,
                function=PairSide.from_dict(json.loads(function)),
                target=PairSide.from_dict(json.loads(target)),
                kind=kind,
                score=score,
                published_at=at,
            )
            for fp, number, at, kind, score, function, target in rows
        ]

    def pulls(self, *, since: float = 0.0, limit: int = 50) -> list[int]:
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT pull, MAX(published_at) AS latest FROM published WHERE published_at >= ? "
                "GROUP BY pull ORDER BY latest DESC, pull DESC LIMIT ?",
                (since, max(0, limit)),
            ).fetchall()
        return [pull for pull, _ in rows]

    def set_votes(self, pull: int, fingerprint: str, source: VoteSource, votes: Sequence[Vote]) -> bool:
        check_fingerprint(fingerprint)
        check_pull(pull)
        kept = _checked_votes(votes, source)
        with self._transaction() as conn:
            known = conn.execute(
                "SELECT 1 FROM published WHERE fingerprint = ? AND pull = ?", (fingerprint, pull)
            ).fetchone()
            if not known:
                return False
            conn.execute(
                "DELETE FROM votes WHERE fingerprint = ? AND pull = ? AND source = ?", (fingerprint, pull, source)
            )
            conn.executemany(
                "INSERT OR IGNORE INTO votes VALUES (?, ?, ?, ?, ?)",
                [(fingerprint, pull, source, v.login, v.value) for v in kept],
            )
        return True

    def votes(self) -> dict[str, list[Vote]]:
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT v.fingerprint, v.login, v.value, v.source FROM votes v JOIN published p "
                "ON p.fingerprint = v.fingerprint AND p.pull = v.pull ORDER BY v.fingerprint, v.pull, v.source, v.login"
            ).fetchall()
        out: dict[str, list[Vote]] = {}
        for fingerprint, login, value, source in rows:
            out.setdefault(fingerprint, []).append(Vote(login, value, source))
        return out

    def drop(self) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM votes")
            conn.execute("DELETE FROM published")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def store_path(data_dir: Path, repo: RepoRef) -> Path:
    """Where ``repo``'s feedback lives: named like its collections, so it is its own and no other's."""
    return Path(data_dir) / "feedback" / f"{repo.collection_name}.sqlite"


def open_store(data_dir: Path, repo: RepoRef, limits: StoreLimits | None = None) -> SqliteFeedbackStore:
    return SqliteFeedbackStore(store_path(data_dir, repo), limits)


def drop_store(data_dir: Path, repo: RepoRef) -> bool:
    """Delete ``repo``'s feedback file (and its WAL files); True when there was one."""
    path = store_path(data_dir, repo)
    found = path.exists()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return found


__all__ = [
    "FeedbackCounts",
    "FeedbackInputError",
    "FeedbackPair",
    "FeedbackStore",
    "MemoryFeedbackStore",
    "PairSide",
    "PublishedPair",
    "SqliteFeedbackStore",
    "StoreLimits",
    "Vote",
    "drop_store",
    "label_of",
    "open_store",
    "store_path",
]
