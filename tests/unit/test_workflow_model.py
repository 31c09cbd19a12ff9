"""Workflow definitions: what parse accepts, what it refuses (with the path), and that a
definition written back with as_dict reads back the same."""

from __future__ import annotations

import pytest

from legato.domain.errors import ValidationFailed
from legato.workflow.model import parse

BASE = {"name": "nightly-export", "actions": [{"action": "noop"}]}


@pytest.mark.parametrize(
    ("trigger", "described"),
    [
        ("order.created", "order.created"),
        ({"schedule": "18:00"}, "every day at 18:00 UTC"),
        ({"every": "2d"}, "every 172800 s"),
        ({"every": "90m"}, "every 5400 s"),
    ],
)
def test_a_definition_reads_back_the_same_from_as_dict(trigger: object, described: str) -> None:
    d = parse({**BASE, "trigger": trigger}, check=False)
    assert d.trigger.describe() == described
    assert parse(d.as_dict(), check=False) == d


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"trigger": "order.teleported"}, "trigger"),
        ({"trigger": {"schedule": "25:00"}}, "trigger.schedule"),
        ({"trigger": {"every": "10s"}}, "trigger.every"),
        ({"name": "Not A Name"}, "name"),
        ({"priority": 1.5}, "priority"),
        ({"actions": []}, "actions"),
        ({"actions": [{"action": "noop", "parms": {}}]}, "actions[0].parms"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_definition_is_refused_naming_the_field(change: dict[str, object], path: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse({**BASE, "trigger": "order.created", **change}, check=False)
    assert path in [i.path for i in caught.value.issues]
