"""Releases by name from their registries, cached on disk, and the source files they hold.

PyPI releases come as wheels (an sdist when there is no wheel), npm releases as ``npm pack``
tarballs, Debian packages through ``apt-get download`` with a private apt configuration under the
cache (the system's sources and lists are never touched). Everything lands under the cache
directory and is reused; nothing here is committed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from benchmarks.realedit.manifest import Library
from embedding.extract import ExtractOptions, skip_reason
from embedding.languages import language_for_path

DEBIAN_SUITES = ("bookworm", "trixie")
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
DOWNLOAD_TIMEOUT = 600  # seconds for one registry client call
MAX_FILE_BYTES = 1_000_000  # larger source files are not read (the extractor's own default)

# Path segments and file names that are not library source: tests, docs, examples, vendored code.
_SKIP_SEGMENTS = frozenset(
    {"test", "tests", "__tests__", "testing", "testdata", "spec", "specs", "fixtures", "doc", "docs",
     "example", "examples", "benchmark", "benchmarks", "bench", "vendor", "vendored", "_vendor",
     "third_party", "node_modules", "dist", "build", "scripts", "types", "typings", "__pycache__",
     "bin", "cmd", "integration"}
)  # fmt: skip
_SKIP_NAME = re.compile(
    r"(^test_.*\.py$|_test\.(py|go|rb)$|^conftest\.py$|\.(test|spec)\.[cm]?[jt]sx?$|\.d\.[cm]?ts$"
    r"|_spec\.rb$|Test\.php$|\.min\.js$|^setup\.py$|^noxfile\.py$)"
)


class FetchError(RuntimeError):
    """A release could not be downloaded or unpacked; the message names the library and version."""


def is_source_path(path: str) -> bool:
    """Whether a package-relative path is library source worth benchmarking (not tests, docs, vendored)."""
    parts = PurePosixPath(path).parts
    if any(part.lower() in _SKIP_SEGMENTS or part.startswith(".") for part in parts[:-1]):
        return False
    return not _SKIP_NAME.search(parts[-1]) if parts else False


def _run(command: list[str], cwd: Path, what: str) -> None:
    try:
        subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT)
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "").strip().splitlines()[-3:]
        raise FetchError(f"{what}: {' '.join(command[:3])} … failed: {' | '.join(tail)[:400]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise FetchError(f"{what}: {command[0]} took longer than {DOWNLOAD_TIMEOUT}s") from exc


# --- downloads -----------------------------------------------------------------------------------
def _download_pypi(name: str, version: str, dest: Path) -> Path:
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check"]
    what = f"pypi {name}=={version}"
    try:
        _run([*pip, "--only-binary", ":all:", f"{name}=={version}", "-d", str(dest)], dest, what)
    except FetchError:
        _run([*pip, "--no-binary", ":all:", f"{name}=={version}", "-d", str(dest)], dest, what)
    found = sorted(dest.glob("*.whl")) or sorted(dest.glob("*.tar.gz")) or sorted(dest.glob("*.zip"))
    if not found:
        raise FetchError(f"{what}: pip left no archive in {dest}")
    return found[0]


def _download_npm(name: str, version: str, dest: Path) -> Path:
    _run(["npm", "pack", f"{name}@{version}", "--silent", "--pack-destination", str(dest)], dest, f"npm {name}")
    found = sorted(dest.glob("*.tgz"))
    if not found:
        raise FetchError(f"npm {name}@{version}: npm pack left no tarball in {dest}")
    return found[0]


def apt_options(cache: Path) -> list[str]:
    """apt-get options that use only files under ``cache/apt`` (sources, lists, archives, no status)."""
    root = cache / "apt"
    return [
        "-o", f"Dir::Etc::SourceList={root / 'sources.list'}",
        "-o", "Dir::Etc::SourceParts=/nonexistent",
        "-o", f"Dir::State::Lists={root / 'lists'}",
        "-o", f"Dir::Cache={root / 'cache'}",
        "-o", "Dir::State::status=/dev/null",
        "-o", "Debug::NoLocking=1",
    ]  # fmt: skip


def _apt_update(cache: Path) -> None:
    root = cache / "apt"
    if (root / "updated").exists():
        return
    for sub in ("lists/partial", "cache/archives/partial"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    lines = [f"deb [signed-by={DEBIAN_KEYRING}] {DEBIAN_MIRROR} {suite} main" for suite in DEBIAN_SUITES]
    (root / "sources.list").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _run(["apt-get", *apt_options(cache), "update"], root, "apt-get update (private lists)")
    (root / "updated").write_text("ok\n", encoding="utf-8")


def _download_debian(name: str, version: str, dest: Path, cache: Path) -> Path:
    _apt_update(cache)
    _run(["apt-get", *apt_options(cache), "download", f"{name}={version}"], dest, f"debian {name}={version}")
    found = sorted(dest.glob("*.deb"))
    if not found:
        raise FetchError(f"debian {name}={version}: apt-get download left no .deb in {dest}")
    return found[0]


def download(lib: Library, version: str, cache: Path) -> Path:
    """The release's archive, downloaded once into ``cache/downloads``."""
    dest = cache / "downloads" / lib.registry / f"{lib.name}-{version}"
    done = dest / ".done"
    if done.exists():
        return dest / done.read_text(encoding="utf-8").strip()
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if lib.registry == "pypi":
        archive = _download_pypi(lib.registry_name, version, dest)
    elif lib.registry == "npm":
        archive = _download_npm(lib.registry_name, version, dest)
    else:
        archive = _download_debian(lib.registry_name, version, dest, cache)
    done.write_text(archive.name + "\n", encoding="utf-8")
    return archive


# --- unpacking -----------------------------------------------------------------------------------
def _unpack(archive: Path, dest: Path) -> None:
    name = archive.name
    if name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                target = (dest / info.filename).resolve()
                if not target.is_relative_to(dest.resolve()) or info.is_dir():
                    continue  # a hostile member name cannot write outside the folder
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(info))
    elif name.endswith((".tgz", ".tar.gz")):
        with tarfile.open(archive) as tf:
            tf.extractall(dest, filter="data")
    elif name.endswith(".deb"):
        _run(["dpkg-deb", "-x", str(archive), str(dest)], dest.parent, f"dpkg-deb -x {name}")
    else:
        raise FetchError(f"{archive}: unknown archive type")


def unpacked(lib: Library, version: str, cache: Path) -> Path:
    """The folder the release is unpacked in (once), under ``cache/src``."""
    dest = cache / "src" / lib.registry / f"{lib.name}-{version}"
    if (dest / ".done").exists():
        return dest / "tree"
    archive = download(lib, version, cache)
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "tree").mkdir(parents=True)
    _unpack(archive, dest / "tree")
    (dest / ".done").write_text("ok\n", encoding="utf-8")
    return dest / "tree"


def default_root(lib: Library, archive_name: str) -> str:
    """The source folder's glob when the manifest gives none: a package's own top folder."""
    if lib.root:
        return lib.root
    if lib.registry == "npm":
        return "package"
    if lib.registry == "pypi" and not archive_name.endswith(".whl"):
        return "*"  # an sdist's name-version/ folder
    return ""


def source_root(tree: Path, pattern: str) -> Path:
    """The one folder of ``tree`` matching ``pattern`` (segment globs), ``tree`` itself for ``""``."""
    if not pattern:
        return tree
    found = sorted(p for p in tree.glob(pattern) if p.is_dir())
    if len(found) != 1:
        raise FetchError(f"{tree}: root {pattern!r} matches {len(found)} folders, want exactly one")
    return found[0]


def source_files(lib: Library, version: str, cache: Path, options: ExtractOptions) -> dict[str, bytes]:
    """The release's source files of the library's language: relative path → bytes, sorted by path.

    Tests, docs, examples and vendored folders are left out (``is_source_path``), and so is
    whatever doppel itself would not scan (``skip_reason``: excluded globs, other languages).
    """
    tree = unpacked(lib, version, cache)
    archive = download(lib, version, cache)
    root = source_root(tree, default_root(lib, archive.name))
    files: dict[str, bytes] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        rel = path.relative_to(root).as_posix()
        language = language_for_path(rel)
        if language is None or language.name not in lib.file_languages:
            continue
        if not is_source_path(rel) or skip_reason(rel, options) is not None:
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            continue
        files[rel] = path.read_bytes()
    return files
