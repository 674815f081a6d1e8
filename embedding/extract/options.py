"""What to extract (``ExtractOptions``) and what came out of one file (``ExtractResult``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.domain import CodeFunction
from core.settings import (
    DEFAULT_EXCLUDE_GLOBS,
    MAX_CODE_BYTES,
    MAX_FILE_BYTES,
    MAX_FILE_SECONDS,
    MAX_FUNCTIONS_PER_FILE,
    Settings,
)
from embedding.languages import LANGUAGES

__all__ = [
    "MAX_CODE_BYTES",
    "MAX_FILE_BYTES",
    "MAX_FILE_SECONDS",
    "MAX_FUNCTIONS_PER_FILE",
    "ExtractOptions",
    "ExtractResult",
]


@dataclass(frozen=True)
class ExtractOptions:
    """Knobs of extraction; hashable so that compiled globs can be cached per options value.

    The budgets bound the work one file can cause. ``max_file_bytes`` and ``max_code_bytes``
    are judged before any function is built; ``max_file_seconds`` is looked at while parsing,
    walking and building. A file over one of them is skipped with a reason; functions over
    ``max_functions_per_file`` are left out and counted in a warning.
    """

    min_function_lines: int = 3  # functions whose code (docstring removed) is shorter are dropped
    max_file_bytes: int = MAX_FILE_BYTES  # larger files are skipped whole
    exclude_globs: tuple[str, ...] = DEFAULT_EXCLUDE_GLOBS  # repo-relative posix globs, ``**`` spans folders
    languages: tuple[str, ...] | None = None  # canonical language names to scan; None: all
    max_file_seconds: float = MAX_FILE_SECONDS  # time budget of one file: parse, walk and build
    max_code_bytes: int = MAX_CODE_BYTES  # size budget: all the functions' code together
    max_functions_per_file: int = MAX_FUNCTIONS_PER_FILE  # functions past this many are left out

    def __post_init__(self) -> None:
        if self.min_function_lines < 1:
            raise ValueError(f"min_function_lines must be at least 1, got {self.min_function_lines}")
        for name in ("max_file_bytes", "max_code_bytes", "max_functions_per_file"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not self.max_file_seconds > 0:
            raise ValueError(f"max_file_seconds must be positive, got {self.max_file_seconds}")
        # Accept any iterable of globs/languages but store tuples: the options must stay hashable.
        object.__setattr__(self, "exclude_globs", tuple(self.exclude_globs))
        if self.languages is not None:
            languages = tuple(self.languages)
            unknown = [name for name in languages if name not in LANGUAGES]
            if unknown:
                raise ValueError(f"languages has unknown names {unknown}; supported: {', '.join(sorted(LANGUAGES))}")
            object.__setattr__(self, "languages", languages)

    @classmethod
    def from_settings(cls, settings: Settings) -> ExtractOptions:
        return cls(
            min_function_lines=settings.min_function_lines,
            max_file_bytes=settings.max_file_bytes,
            exclude_globs=tuple(settings.exclude_globs),
            languages=tuple(settings.languages) if settings.languages is not None else None,
            max_file_seconds=settings.max_file_seconds,
            max_code_bytes=settings.max_code_bytes,
            max_functions_per_file=settings.max_functions_per_file,
        )


@dataclass
class ExtractResult:
    """Functions found in one file, with the warnings met on the way.

    ``skipped`` is set when the whole file was left out (and says why); ``warnings`` are
    problems that still let some functions through (bad encoding, syntax errors). Every
    message names the path.
    """

    path: str
    functions: list[CodeFunction] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: str | None = None


DEFAULT_OPTIONS = ExtractOptions()  # the options a call without any gets
