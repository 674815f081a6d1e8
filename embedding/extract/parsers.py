"""Tree-sitter grammars and parsers, loaded once per language and cached.

The grammar wheels are imported lazily so that ``import embedding.extract`` stays cheap and an
uninstalled grammar only fails for files of that language.
"""

from __future__ import annotations

import importlib
from functools import cache

import tree_sitter

from core.errors import ConfigError, ExtractionError
from embedding.extract.budget import Deadline, OverBudgetError
from embedding.languages import LANGUAGES

READ_CHUNK = 1 << 16  # bytes handed to the parser per read when parsing against a deadline


@cache
def grammar(language: str) -> tree_sitter.Language:
    """The tree-sitter ``Language`` for a canonical language name (``python``, ``tsx``, …)."""
    spec = LANGUAGES.get(language)
    if spec is None:
        raise ConfigError(f"unknown language {language!r}; supported: {', '.join(sorted(LANGUAGES))}")
    try:
        module = importlib.import_module(spec.grammar_module)
        return tree_sitter.Language(getattr(module, spec.grammar_function)())
    except (ImportError, AttributeError, ValueError) as exc:
        raise ExtractionError(
            f"the tree-sitter grammar for {language} ({spec.grammar_module}.{spec.grammar_function}) "
            f"could not be loaded: {exc}; install doppel's 'ml' extra"
        ) from exc


@cache
def parser(language: str) -> tree_sitter.Parser:
    """A parser for ``language``, one per process (parsers are reused, never shared across threads)."""
    return tree_sitter.Parser(grammar(language))


def parse(language: str, data: bytes, deadline: Deadline | None = None) -> tree_sitter.Tree:
    """Parse UTF-8 ``data`` with the cached parser of ``language``.

    With a ``deadline``, the parser reads ``data`` in chunks and asks the clock as it goes; a
    parse past the deadline is cancelled (and the parser reset) with ``OverBudgetError``.
    """
    if deadline is None:
        return parser(language).parse(data)
    cached = parser(language)
    try:
        return cached.parse(
            lambda offset, _point: data[offset : offset + READ_CHUNK],
            progress_callback=lambda *_state: deadline.expired(),
        )
    except ValueError as exc:  # what py-tree-sitter raises when the callback cancels the parse
        cached.reset()  # or the next parse would resume this one
        if deadline.expired():
            raise OverBudgetError(deadline.reason("parsing")) from exc
        raise


@cache
def query(language: str, source: str) -> tree_sitter.Query:
    """A compiled query, cached by language and text (compiling costs more than running)."""
    return tree_sitter.Query(grammar(language), source)
