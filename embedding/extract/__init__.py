"""Function extraction with tree-sitter: files in, ``CodeFunction`` values out.

``import embedding.extract`` is light (no torch); grammars load on first use, once per language.
"""

from __future__ import annotations

from embedding.extract.extractor import extract_file, extract_source
from embedding.extract.options import ExtractOptions, ExtractResult
from embedding.extract.parsers import parse
from embedding.extract.skip import skip_reason
from embedding.extract.tokens import Token, TokenKind, body_hash, code_tokens

__all__ = [
    "ExtractOptions",
    "ExtractResult",
    "Token",
    "TokenKind",
    "body_hash",
    "code_tokens",
    "extract_file",
    "extract_source",
    "parse",
    "skip_reason",
]
