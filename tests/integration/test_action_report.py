"""The Action's ``report-html`` input: the duplication report of the pull request's head, written
for the upload-artifact step, with the same wiring as ``test_action.py`` (a real payload, real git,
the real MiniLM encoder, the fake GitHub)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from bot.action import main
from tests.fakes.github import FakeGitHubServer
from tests.integration.test_action import (  # noqa: F401 - fixtures: the change, the fake GitHub, one encoder
    _environ,
    _event,
    _load_encoder_once,
    _outputs,
    change,
    fake,
    shared_encoder,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_report_html_writes_the_heads_duplication_report(
    change: dict[str, Any],  # noqa: F811 - the fixture imported above
    fake: FakeGitHubServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    environ = _environ(change, fake, tmp_path, _event(change, tmp_path), report_html="true")
    stdout = io.StringIO()

    assert main(environ, stdout=stdout) == 0, stdout.getvalue()

    outputs = _outputs(tmp_path / "output.txt")
    directory = Path(outputs["report"])
    assert directory == tmp_path / "runner-temp" / "doppel-report"
    data = json.loads((directory / "report.json").read_text())
    assert data["commit"] == change["head"]  # the head: the pull request's copy is in it
    groups = [{m["qualified_name"] for m in c["members"]} for c in data["clusters"]]
    assert {"order_total", "invoice_total"} in groups
    page = (directory / "index.html").read_text()
    assert "shop/invoices.py" in page and page.count('<details class="cluster"') == len(data["clusters"])
    assert "doppel: duplication report at" in stdout.getvalue()
    # The review itself went on as without the input.
    assert len(fake.state.reviews_on("acme/shop", 17)) == 1


def test_without_the_input_no_report_is_written(
    change: dict[str, Any],  # noqa: F811
    fake: FakeGitHubServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    environ = _environ(change, fake, tmp_path, _event(change, tmp_path))
    assert main(environ, stdout=io.StringIO()) == 0
    assert _outputs(tmp_path / "output.txt")["report"] == ""
    assert not (tmp_path / "runner-temp" / "doppel-report").exists()


def test_report_html_must_be_a_boolean(
    change: dict[str, Any],  # noqa: F811
    fake: FakeGitHubServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    environ = _environ(change, fake, tmp_path, _event(change, tmp_path), report_html="maybe")
    stdout = io.StringIO()
    assert main(environ, stdout=stdout) == 2
    assert "input 'report-html' must be true or false" in stdout.getvalue()
