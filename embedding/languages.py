"""Supported languages: names, file extensions and the grammar wheel that parses each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True)
class Language:
    name: str  # canonical name, used in payloads, adapter directories and settings
    extensions: tuple[str, ...]
    grammar_module: str  # the per-language tree-sitter wheel
    grammar_function: str = "language"  # function in that module returning the grammar pointer


LANGUAGES: dict[str, Language] = {
    lang.name: lang
    for lang in (
        Language("python", (".py", ".pyi"), "tree_sitter_python"),
        Language("java", (".java",), "tree_sitter_java"),
        Language("javascript", (".js", ".jsx", ".mjs", ".cjs"), "tree_sitter_javascript"),
        Language("typescript", (".ts", ".mts", ".cts"), "tree_sitter_typescript", "language_typescript"),
        Language("tsx", (".tsx",), "tree_sitter_typescript", "language_tsx"),
        Language("go", (".go",), "tree_sitter_go"),
        Language("ruby", (".rb",), "tree_sitter_ruby"),
        Language("php", (".php",), "tree_sitter_php", "language_php"),
        Language("c", (".c", ".h"), "tree_sitter_c"),
        Language("cpp", (".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx", ".c++", ".h++"), "tree_sitter_cpp"),
        Language("csharp", (".cs",), "tree_sitter_c_sharp"),
        Language("rust", (".rs",), "tree_sitter_rust"),
    )
}

_BY_EXTENSION: dict[str, Language] = {ext: lang for lang in LANGUAGES.values() for ext in lang.extensions}


def language_for_path(path: str) -> Language | None:
    """The language of a file by its extension, or ``None`` when doppel does not scan it."""
    return _BY_EXTENSION.get(PurePosixPath(path).suffix.lower())
