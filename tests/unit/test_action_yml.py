"""action.yml and the entry point agree: every input reaches ``bot.action`` and every output is set."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
STEPS = {step.get("id"): step for step in ACTION["runs"]["steps"]}
# Inputs the composite action consumes itself instead of handing them to bot.action.
USED_BY_THE_ACTION_ITSELF = {"cache", "python-version"}


def inputs_read_by_the_entry_point() -> set[str]:
    source = (ROOT / "bot" / "action_inputs.py").read_text()
    return set(re.findall(r'_input\(environ, "([a-z-]+)"\)', source))


def test_every_input_is_handed_to_the_entry_point() -> None:
    env = STEPS["review"]["env"]
    for name in set(ACTION["inputs"]) - USED_BY_THE_ACTION_ITSELF:
        key = f"INPUT_{name.upper().replace('-', '_')}"
        assert key in env, f"input {name!r} never reaches bot.action (no {key} in the review step)"


def test_the_entry_point_reads_only_declared_inputs() -> None:
    undeclared = inputs_read_by_the_entry_point() - set(ACTION["inputs"])
    assert not undeclared, f"bot.action reads inputs action.yml does not declare: {sorted(undeclared)}"


def test_outputs_come_from_the_review_step_and_are_written_by_the_entry_point() -> None:
    source = (ROOT / "bot" / "action.py").read_text()
    for name, output in ACTION["outputs"].items():
        assert output["value"] == f"${{{{ steps.review.outputs.{name} }}}}"
        assert f'"{name}"' in source, f"bot.action never sets output {name!r}"


def test_the_review_runs_outside_the_checkout() -> None:
    # A pull request could plant a .env in the checkout; settings read .env from the working directory.
    assert STEPS["review"]["working-directory"] == "${{ runner.temp }}"
