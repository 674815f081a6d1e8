"""The duplication report's page in a real headless browser (Chromium from Debian's packages).

The page is made from a real report (real git, real extraction; the hashing encoder for speed),
loaded from a file:// URL with the network refused, and checked after its script ran: every
cluster is in the DOM, the script filled in the cluster count (so it runs under the page's
Content-Security-Policy), and a screenshot shows something other than a blank page. ``make test``
installs Chromium with apt-get when it is missing; only where that fails is this skipped.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.test_report import FILES, _report, make_repo
from workers.services.dup_report_html import render_html

pytestmark = pytest.mark.integration

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser")) if p), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium not found: `make test` installs Debian's chromium package with apt-get, which failed here",
)
# No sandbox: CI runs as root in a container; no network: the page must not need it.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--no-first-run",
    "--proxy-server=127.0.0.1:9",  # any request would fail (nothing listens on the discard port)
]


def _chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={cwd / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


@pytest.fixture
def page(tmp_path: Path) -> tuple[Path, dict]:
    data = _report(tmp_path, make_repo(tmp_path, FILES)).to_dict()
    path = tmp_path / "index.html"
    path.write_text(render_html(data), encoding="utf-8")
    return path, data


@needs_chromium
def test_the_page_loads_and_shows_every_cluster(page: tuple[Path, dict], tmp_path: Path) -> None:
    path, data = page
    done = _chromium("--dump-dom", path.as_uri(), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    clusters = len(data["clusters"])
    assert clusters == 2
    assert len(re.findall(r'<details class="cluster"', dom)) == clusters
    # Written by the page's script after load: the inline JS ran.
    assert f'<span id="shown">{clusters} of {clusters} clusters</span>' in dom
    for member in (m for c in data["clusters"] for m in c["members"]):
        assert member["qualified_name"] in dom
    assert "<mark>" in dom  # the renamed copy's differences are highlighted


@needs_chromium
def test_a_screenshot_of_the_page_is_not_blank(page: tuple[Path, dict], tmp_path: Path) -> None:
    from PIL import Image

    path, _ = page
    shot = tmp_path / "shot.png"
    done = _chromium(f"--screenshot={shot}", "--window-size=1280,1600", path.as_uri(), cwd=tmp_path)
    assert shot.is_file(), done.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == (1280, 1600)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    # A blank or unstyled page has a handful of colours; the report's cards, bars and diff many.
    assert colours is None or len(colours) > 50
