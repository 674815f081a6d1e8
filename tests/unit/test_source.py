"""GitSource on real repositories built in tmp_path, and its pure diff parsers on git's output."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import GitError
from embedding.source import FileChanges, GitSource, parse_added_lines, parse_name_status
from tests.factories import commit, make_repo

# --- pure parsers ---------------------------------------------------------------------------------


def test_parse_name_status_reads_every_kind_of_record() -> None:
    out = b"A\0new.py\0M\0mod.py\0D\0gone.py\0R087\0old/x.py\0new/x.py\0C100\0a.py\0copy.py\0T\0link\0"
    changes = parse_name_status(out)
    assert changes == FileChanges(
        added=("new.py", "copy.py"),
        modified=("mod.py", "link"),
        deleted=("gone.py",),
        renamed=(("old/x.py", "new/x.py"),),
    )
    assert set(changes.removed_paths) == {"mod.py", "link", "gone.py", "old/x.py"}
    assert set(changes.new_paths) == {"new.py", "copy.py", "mod.py", "link", "new/x.py"}


def test_parse_name_status_of_nothing_is_empty() -> None:
    assert parse_name_status(b"").is_empty


def test_parse_added_lines_counts_new_side_lines_per_hunk() -> None:
    diff = (
        b"diff --git a/m.py b/m.py\n"
        b"index 1..2 100644\n"
        b"--- a/m.py\n"
        b"+++ b/m.py\n"
        b"@@ -3 +3 @@ def f():\n"
        b"-    return 1\n"
        b"+    return 2\n"
        b"@@ -10,0 +11,2 @@\n"
        b"+++ not a header\n"
        b"+@@ -1 +1 @@ not a hunk either\n"
        b"@@ -20,2 +22,0 @@\n"
        b"-gone\n"
        b"-gone too\n"
    )
    assert parse_added_lines(diff) == {"m.py": {3, 11, 12}}


def test_parse_added_lines_skips_deleted_binary_and_no_newline_markers() -> None:
    diff = (
        b"diff --git a/old.py b/old.py\n"
        b"deleted file mode 100644\n"
        b"--- a/old.py\n"
        b"+++ /dev/null\n"
        b"@@ -1,2 +0,0 @@\n"
        b"-x\n"
        b"-y\n"
        b"diff --git a/img.png b/img.png\n"
        b"Binary files a/img.png and b/img.png differ\n"
        b"diff --git a/t.py b/t.py\n"
        b"--- a/t.py\n"
        b"+++ b/t.py\n"
        b"@@ -1 +1 @@\n"
        b"-a\n"
        b"\\ No newline at end of file\n"
        b"+b\n"
        b"\\ No newline at end of file\n"
        b'diff --git "a/caf\\303\\251 x.py" "b/caf\\303\\251 x.py"\n'
        b'--- "a/caf\\303\\251 x.py"\n'
        b'+++ "b/caf\\303\\251 x.py"\n'
        b"@@ -0,0 +1 @@\n"
        b"+new\n"
    )
    assert parse_added_lines(diff) == {"t.py": {1}, "café x.py": {1}}


# --- GitSource on real repositories ------------------------------------------------------------


def test_non_repository_and_missing_path_raise_git_error(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not a git repository"):
        GitSource(tmp_path)
    with pytest.raises(GitError, match="does not exist"):
        GitSource(tmp_path / "nowhere")


def test_resolve_gives_full_shas_and_explains_unknown_refs(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {"a.py": "x = 1\n"})
    first = repo.head.commit.hexsha
    second = commit(repo, {"a.py": "x = 2\n"})
    repo.create_tag("v1", ref=first)
    with GitSource(Path(repo.working_tree_dir)) as source:
        assert source.resolve("HEAD") == second
        assert source.resolve("main") == second
        assert source.resolve("HEAD~1") == first
        assert source.resolve("v1") == first
        assert source.resolve(first[:10]) == first
        with pytest.raises(GitError, match=r"unknown revision 'nope'.*git fetch"):
            source.resolve("nope")
        with pytest.raises(GitError, match="invalid git ref"):
            source.resolve("--output=/tmp/x")


def test_list_files_and_read_see_only_regular_blobs(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {"pkg/a.py": "a = 1\n", "b.bin": b"\x00\xff\x01", "caf\u00e9.py": "c = 3\n"})
    sha = commit(repo, symlinks={"link.py": "pkg/a.py"}, message="link")
    # A submodule entry (gitlink) points at some commit; it is not a file.
    repo.git.update_index("--add", "--cacheinfo", f"160000,{sha},vendored")
    repo.git.commit("-q", "--no-verify", "-m", "submodule")
    with GitSource(Path(repo.working_tree_dir)) as source:
        assert source.list_files("HEAD") == sorted(["b.bin", "caf\u00e9.py", "pkg/a.py"])
        assert source.read("HEAD", "pkg/a.py") == b"a = 1\n"
        assert source.read("HEAD", "b.bin") == b"\x00\xff\x01"
        assert source.read("HEAD", "caf\u00e9.py") == b"c = 3\n"
        with pytest.raises(GitError, match="not a regular file"):
            source.read("HEAD", "link.py")
        with pytest.raises(GitError, match="not a regular file"):
            source.read("HEAD", "missing.py")


def test_source_opens_from_a_subdirectory_and_a_bare_clone(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {"pkg/a.py": "a = 1\n"})
    root = Path(repo.working_tree_dir)
    with GitSource(root / "pkg") as source:
        assert source.list_files("HEAD") == ["pkg/a.py"]
    bare = repo.clone(tmp_path / "bare.git", bare=True)
    with GitSource(Path(bare.git_dir)) as source:
        assert source.read("HEAD", "pkg/a.py") == b"a = 1\n"


def test_changes_detects_added_modified_deleted_and_renamed(tmp_path: Path) -> None:
    body = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(20))
    repo = make_repo(tmp_path, {"keep.py": "k = 1\n", "mod.py": "m = 1\n", "gone.py": "g = 1\n", "old.py": body})
    old = repo.head.commit.hexsha
    new = commit(
        repo, {"mod.py": "m = 2\n", "added.py": "n = 1\n"}, delete=["gone.py"], rename={"old.py": "sub/new.py"}
    )
    with GitSource(Path(repo.working_tree_dir)) as source:
        changes = source.changes(old, new)
        assert changes == FileChanges(
            added=("added.py",), modified=("mod.py",), deleted=("gone.py",), renamed=(("old.py", "sub/new.py"),)
        )
        assert source.changes(new, new).is_empty


def test_added_lines_diffs_against_the_merge_base(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {"a.py": "one\ntwo\nthree\n", "b.py": "b\n", "gone.py": "g\n"})
    base_start = repo.head.commit.hexsha
    repo.git.checkout("-q", "-b", "feature")
    commit(
        repo,
        {"a.py": "one\nTWO\nthree\nfour", "new.py": "n1\nn2\n", "img.png": b"\x89PNG\x00\x01"},
        delete=["gone.py"],
        rename={"b.py": "c.py"},
    )
    head = repo.head.commit.hexsha
    repo.git.checkout("-q", "main")
    main_tip = commit(repo, {"other.py": "changed on main\n"})  # not part of the feature's diff
    with GitSource(Path(repo.working_tree_dir)) as source:
        assert source.merge_base(main_tip, head) == base_start
        assert source.added_lines(main_tip, head) == {"a.py": {2, 4}, "new.py": {1, 2}}


def test_repository_configured_commands_never_run(tmp_path: Path) -> None:
    """A hostile repository's textconv filter, external diff and hooks must not execute."""
    marker = tmp_path / "ran"
    evil = f"sh -c 'touch {marker}' --"
    repo = make_repo(tmp_path, {".gitattributes": "*.py diff=evil\n", "a.py": "x\n"})
    with repo.config_writer() as config:
        config.set_value('diff "evil"', "textconv", evil)
        config.set_value("diff", "external", evil)
        config.set_value("core", "fsmonitor", evil)
        config.set_value("core", "hooksPath", str(tmp_path / "hooks"))
    (tmp_path / "hooks").mkdir()
    for hook in ("post-checkout", "reference-transaction", "pre-auto-gc"):
        script = tmp_path / "hooks" / hook
        script.write_text(f"#!/bin/sh\ntouch {marker}\n")
        script.chmod(0o755)
    old = repo.head.commit.hexsha
    new = commit(repo, {"a.py": "x\ny\n"})
    marker.unlink(missing_ok=True)  # committing in the fixture may have run them
    with GitSource(Path(repo.working_tree_dir)) as source:
        assert source.added_lines(old, new) == {"a.py": {2}}
        assert source.changes(old, new).modified == ("a.py",)
        assert source.read(new, "a.py") == b"x\ny\n"
    assert not marker.exists()
