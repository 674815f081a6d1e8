"""doppel's exception tree. Library errors are translated at the boundary with ``raise X from exc``.

    DoppelError
    ├── ConfigError            a setting or argument has a bad value
    ├── ExtractionError        a source file could not be read or parsed at all
    ├── EncoderError           the base model or an adapter could not be loaded or used
    │   └── AdapterError       an adapter is missing, unsafe (pickle) or incompatible
    ├── IndexError_            the vector index refused an operation
    │   └── CollectionNotFound the collection for a repository does not exist yet
    ├── GitError               a repository, ref or commit range could not be read
    └── ReviewError            the review could not run (e.g. no index for the base)
"""

from __future__ import annotations


class DoppelError(Exception):
    """Base of every error doppel raises on purpose."""


class ConfigError(DoppelError):
    """A setting or argument has a bad value; the message names it and says what to do."""


class ExtractionError(DoppelError):
    """A source file could not be read or parsed at all."""


class EncoderError(DoppelError):
    """The base model or an adapter could not be loaded or used."""


class AdapterError(EncoderError):
    """An adapter is missing, stored unsafely (pickle) or does not fit the base model."""


class IndexError_(DoppelError):  # noqa: N801 - avoid shadowing the builtin IndexError
    """The vector index refused an operation."""


class CollectionNotFound(IndexError_):
    """The collection for a repository does not exist yet: run ``doppel index`` first."""


class GitError(DoppelError):
    """A repository, ref or commit range could not be read."""


class ReviewError(DoppelError):
    """The review could not run."""
