"""The benchmark's libraries: which releases of what, in which language, on which split."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

REGISTRIES = ("pypi", "npm", "debian")
SPLITS = ("calibrate", "report")
MANIFEST = Path(__file__).with_name("libraries.json")

# Doppel languages whose files belong to a library of each manifest language (.tsx is TypeScript too).
LANGUAGE_FILES: dict[str, tuple[str, ...]] = {
    "python": ("python",),
    "javascript": ("javascript",),
    "typescript": ("typescript", "tsx"),
    "go": ("go",),
    "ruby": ("ruby",),
    "php": ("php",),
}


@dataclass(frozen=True)
class Library:
    """One library: two releases of one package, fetched by name from one registry.

    ``package`` is the name the registry knows (``name`` when empty). ``root`` is a glob of the
    folder inside the unpacked package that holds the source (``*`` matches within one path
    segment, so a versioned folder like ``rack-2.2.22`` is matched by ``rack-*``); paths are
    taken relative to it, so that the two releases' paths agree.
    """

    name: str
    registry: str
    language: str
    old: str
    new: str
    split: str
    package: str = ""
    root: str = ""

    def __post_init__(self) -> None:
        if self.registry not in REGISTRIES:
            raise ValueError(f"library {self.name!r}: registry must be one of {REGISTRIES}, got {self.registry!r}")
        if self.language not in LANGUAGE_FILES:
            raise ValueError(
                f"library {self.name!r}: language must be one of {sorted(LANGUAGE_FILES)}, got {self.language!r}"
            )
        if self.split not in SPLITS:
            raise ValueError(f"library {self.name!r}: split must be one of {SPLITS}, got {self.split!r}")
        if self.old == self.new:
            raise ValueError(f"library {self.name!r}: old and new versions are both {self.old!r}")

    @property
    def registry_name(self) -> str:
        return self.package or self.name

    @property
    def file_languages(self) -> tuple[str, ...]:
        return LANGUAGE_FILES[self.language]

    def to_dict(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if getattr(self, k)}


def load_manifest(path: Path = MANIFEST) -> list[Library]:
    """The libraries of a manifest file, in file order; names must be unique."""
    entries = json.loads(path.read_text(encoding="utf-8"))["libraries"]
    libraries = [Library(**entry) for entry in entries]
    names = [lib.name for lib in libraries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{path}: library names must be unique, repeated: {duplicates}")
    return libraries


def select(libraries: list[Library], split: str = "all", names: str | None = None) -> list[Library]:
    """The libraries of a split (``all`` for both), narrowed to comma-separated ``names`` if given."""
    if split not in (*SPLITS, "all"):
        raise ValueError(f"split must be calibrate, report or all, got {split!r}")
    chosen = [lib for lib in libraries if split == "all" or lib.split == split]
    if names:
        wanted = [n.strip() for n in names.split(",") if n.strip()]
        known = {lib.name for lib in libraries}
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise ValueError(f"unknown libraries {unknown}; the manifest has: {', '.join(sorted(known))}")
        chosen = [lib for lib in libraries if lib.name in wanted]
    return chosen
