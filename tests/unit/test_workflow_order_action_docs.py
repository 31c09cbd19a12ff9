"""Every order action has its page, and every example on it is a step (or a workflow) that
saves: the pages cannot drift from the parameters the actions accept."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from legato.workflow.actions import REGISTRY, check_action
from legato.workflow.model import parse

DOCS = Path(__file__).resolve().parents[2] / "docs" / "workflows" / "actions"
MINE = ["set_status", "require_approval", "add_tag", "remove_tag", "set_priority", "set_field",
        "validate_before_erp", "wait", "run_custom"]  # fmt: skip
#: run_custom's example names a module the operator installs: its page is run for real by
#: test_workflow_order_checks.py, which installs that module from the page itself
NEEDS_INSTALL = {"run_custom"}


def yaml_blocks(name: str) -> list[Any]:
    text = (DOCS / f"{name}.md").read_text()
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.S)]


@pytest.mark.parametrize("name", MINE)
def test_each_order_action_is_registered_and_its_page_says_what_it_takes_does_and_retries(name: str) -> None:
    assert name in REGISTRY
    text = (DOCS / f"{name}.md").read_text()
    assert text.startswith(f"# `{name}`")
    assert "| parameter |" in text and "timeline" in text and "Retries" in text
    assert yaml_blocks(name), "an example step"


@pytest.mark.parametrize("name", [n for n in MINE if n not in NEEDS_INSTALL])
def test_every_example_on_an_order_action_page_saves(name: str) -> None:
    for block in yaml_blocks(name):
        steps = block if isinstance(block, list) else block["actions"]
        if isinstance(block, dict):
            parse(block, check=False)  # the workflow's shape; other pages check their own actions
        checked = 0
        for i, step in enumerate(steps):
            if step["action"] in MINE:
                check_action(step["action"], step.get("params") or {}, f"actions[{i}]")
                checked += 1
        assert checked, block
