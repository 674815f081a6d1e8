"""The clone cache: fetch instead of re-clone, token only in the command's environment, no hooks."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import git
import pytest

from core.errors import GitError
from github_adapter.clone import RepoCache, auth_env
from tests.factories import commit, make_repo

pytestmark = pytest.mark.integration

TOKEN = "ghs_super_secret_installation_token"
MAIN = "+refs/heads/main:refs/remotes/origin/main"


@pytest.fixture
def remote(tmp_path: Path) -> git.Repo:
    return make_repo(tmp_path / "host" / "acme", {"app.py": "def f():\n    return 1\n"}, name="shop.git")


def test_first_sync_clones_later_syncs_fetch(tmp_path: Path, remote: git.Repo) -> None:
    cache = RepoCache(tmp_path / "cache", web_url=str(tmp_path / "host"))
    path = cache.sync("acme/shop", token=TOKEN, refspecs=[MAIN], installation_id=3)
    assert path == cache.path_for("acme/shop", 3)
    assert git.Repo(path).commit("origin/main").hexsha == remote.head.commit.hexsha
    marker = path / ".git" / "doppel-test-marker"
    marker.write_text("still the same clone")

    newer = commit(remote, {"app.py": "def f():\n    return 2\n"}, "second")
    assert cache.sync("acme/shop", token=TOKEN, refspecs=[MAIN], installation_id=3) == path
    assert git.Repo(path).commit("origin/main").hexsha == newer
    assert marker.read_text() == "still the same clone"  # fetched, not cloned again


def test_token_never_lands_in_the_repository(tmp_path: Path, remote: git.Repo) -> None:
    cache = RepoCache(tmp_path / "cache", web_url=str(tmp_path / "host"))
    path = cache.sync("acme/shop", token=TOKEN, refspecs=[MAIN])
    basic = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    for file in (path / ".git").rglob("*"):
        if file.is_file():
            data = file.read_bytes()
            assert TOKEN.encode() not in data and basic.encode() not in data, file
    assert git.Repo(path).remotes.origin.url == f"{tmp_path / 'host'}/acme/shop.git"


def test_hooks_never_run(tmp_path: Path, remote: git.Repo) -> None:
    cache = RepoCache(tmp_path / "cache", web_url=str(tmp_path / "host"))
    path = cache.sync("acme/shop", token=None, refspecs=[MAIN])
    with git.Repo(path).config_writer() as cfg:  # even without the repository's own setting
        cfg.remove_option("core", "hooksPath")
    ran = tmp_path / "hook-ran"
    hook = path / ".git" / "hooks" / "reference-transaction"
    hook.write_text(f"#!/bin/sh\ntouch {ran}\n")
    hook.chmod(0o755)
    commit(remote, {"b.py": "x = 1\n"}, "more")
    cache.sync("acme/shop", token=None, refspecs=[MAIN])
    assert not ran.exists()


def test_failure_is_a_git_error_without_the_token(tmp_path: Path) -> None:
    cache = RepoCache(tmp_path / "cache", web_url=str(tmp_path / "host"))
    with pytest.raises(GitError) as err:
        cache.sync("acme/missing", token=TOKEN, refspecs=[MAIN])
    assert "acme/missing" in str(err.value) and TOKEN not in str(err.value)


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.seen.append(self.headers.get("Authorization"))
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_host() -> Iterator[str]:
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_token_travels_as_an_http_header(tmp_path: Path, http_host: str) -> None:
    cache = RepoCache(tmp_path / "cache", web_url=http_host)
    with pytest.raises(GitError) as err:
        cache.sync("acme/shop", token=TOKEN, refspecs=[MAIN])
    expected = "Basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    assert _Recorder.seen and set(_Recorder.seen) == {expected}
    assert TOKEN not in str(err.value)


def test_auth_env_without_token_only_disables_hooks_and_prompts() -> None:
    env = auth_env(None)
    assert env["GIT_CONFIG_COUNT"] == "1" and env["GIT_CONFIG_KEY_0"] == "core.hooksPath"
    assert env["GIT_TERMINAL_PROMPT"] == "0" and not any("Authorization" in v for v in env.values())
