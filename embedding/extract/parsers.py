"""Tree-sitter grammars and parsers, loaded once per language and cached.

The grammar wheels are imported lazily so that ``import embedding.extract`` stays cheap and an
uninstalled grammar only fails for files of that language.
"""

from __future__ import annotations

import importlib
from functools import cache

import tree_sitter

from core.errors import ConfigError, ExtractionError
from embedding.languages import LANGUAGES


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


def parse(language: str, data: bytes) -> tree_sitter.Tree:
    """Parse UTF-8 ``data`` with the cached parser of ``language``."""
    return parser(language).parse(data)


@cache
def query(language: str, source: str) -> tree_sitter.Query:
    """A compiled query, cached by language and text (compiling costs more than running)."""
    return tree_sitter.Query(grammar(language), source)
