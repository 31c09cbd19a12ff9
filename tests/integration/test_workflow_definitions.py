"""Workflow definitions in the store and in files, on both databases: versions, unchanged saves,
enable/disable, the order the engine reads them in, and the checks of a directory of YAML files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from api_helpers import count
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert

from legato.bootstrap import Runtime
from legato.domain.errors import NotFound, ValidationFailed
from legato.store import workflows as store
from legato.store.db import recording_statements
from legato.store.queries import reading
from legato.store.workflow_tables import jobs, workflow_runs
from legato.workflow import definitions as defs

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def doc(
    name: str, *, priority: int = 0, trigger: Any = "order.created", tag: str = "seen", **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "trigger": trigger,
        "priority": priority,
        "actions": [{"action": "add_tag", "params": {"tag": tag}}],
        **extra,
    }


def save(rt: Runtime, document: dict[str, Any], actor: str = "test") -> store.Saved:
    return defs.save(rt, defs.from_document(document), actor)


def test_an_edit_is_a_new_version_and_the_same_definition_saves_nothing(runtime: Runtime) -> None:
    first = save(runtime, doc("tagger"), "cli:ann")
    assert (first.outcome, first.version) == ("created", 1)
    again = save(runtime, doc("tagger"))
    assert (again.outcome, again.version) == ("unchanged", 1)
    assert count(runtime, "workflow_versions") == 1

    edited = save(runtime, doc("tagger", tag="checked"), "apikey:bob")
    assert (edited.outcome, edited.version) == ("updated", 2)
    assert count(runtime, "workflow_versions") == 2
    with reading(runtime.engine) as conn:
        current = store.get_workflow(conn, "tagger")
        old = store.get_version(conn, "tagger", 1)
        versions = store.list_versions(conn, "tagger")
    assert current is not None and current.version == 2
    assert current.document["actions"][0]["params"] == {"tag": "checked"}
    assert old is not None and old.document["actions"][0]["params"] == {"tag": "seen"}
    assert old.created_by == "cli:ann"
    assert versions is not None and [(v.version, v.created_by) for v in versions] == [
        (1, "cli:ann"),
        (2, "apikey:bob"),
    ]


def test_enable_and_disable_flip_the_flag_without_a_version(runtime: Runtime) -> None:
    save(runtime, doc("tagger"))
    assert defs.set_active(runtime, "tagger", False) is True
    assert defs.set_active(runtime, "tagger", False) is False
    with reading(runtime.engine) as conn:
        assert defs.active_for(conn, "order.created") == []
        assert store.get_workflow(conn, "tagger").active is False  # type: ignore[union-attr]
    # saving the file again (active: true by default) turns it back on, still version 1
    back = save(runtime, doc("tagger"))
    assert (back.outcome, back.version, back.active) == ("enabled", 1, True)
    assert count(runtime, "workflow_versions") == 1
    with pytest.raises(NotFound):
        defs.set_active(runtime, "nobody", True)


def test_active_for_orders_by_priority_then_name_and_skips_other_triggers_and_disabled(
    runtime: Runtime,
) -> None:
    # names whose order differs between byte order and a linguistic collation
    for name, priority in (("ab", 5), ("a_c", 5), ("a-b", 5), ("zz", 50), ("mid", 0), ("low", -3)):
        save(runtime, doc(name, priority=priority))
    save(runtime, doc("paid", priority=99, trigger="payment.received"))
    save(runtime, doc("off", priority=100))
    defs.set_active(runtime, "off", False)
    with reading(runtime.engine) as conn:
        found = defs.active_for(conn, "order.created")
        paid = defs.active_for(conn, "payment.received")
    assert [d.name for _, _, d in found] == ["zz", "a-b", "a_c", "ab", "mid", "low"]
    assert [(version, d.name, d.trigger.event) for _, version, d in paid] == [(1, "paid", "payment.received")]


def test_active_for_reads_the_current_version_in_one_query_once_cached(runtime: Runtime) -> None:
    saved = save(runtime, doc("tagger"))
    save(runtime, doc("tagger", tag="v2"))
    with reading(runtime.engine) as conn:
        defs.active_for(conn, "order.created")  # fills the cache
        with recording_statements(runtime.engine) as seen:
            found = defs.active_for(conn, "order.created")
        old = defs.definition_at(conn, saved.id, 1)
    assert len(seen) == 1, seen
    assert [(v, d.steps[0].params["tag"]) for _, v, d in found] == [(2, "v2")]
    assert old.steps[0].params["tag"] == "seen"  # a run keeps the version it started with


def test_the_list_counts_runs_and_dead_steps(runtime: Runtime) -> None:
    a = save(runtime, doc("counted"))
    save(runtime, doc("quiet"))
    with runtime.engine.begin() as conn:
        for state, event_id in (("done", 1), ("dead", 2)):
            run_id = conn.execute(
                insert(workflow_runs)
                .values(
                    workflow_id=a.id,
                    version=1,
                    event_id=event_id,
                    event_type="order.created",
                    event={},
                    state=state,
                    step=0,
                    started_at=NOW,
                )
                .returning(workflow_runs.c.id)
            ).scalar_one()
            conn.execute(
                insert(jobs).values(
                    run_id=run_id,
                    kind="step",
                    step=0,
                    action="add_tag",
                    params={},
                    state=state,
                    attempts=1,
                    max_attempts=5,
                    run_at=NOW,
                    idempotency_key=f"k-{run_id}",
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
    with reading(runtime.engine) as conn:
        listed = {w.name: (w.fired, w.failed, w.last_fired_at) for w in store.list_workflows(conn)}
    assert listed == {"counted": (2, 1, NOW), "quiet": (0, 0, None)}


names = st.from_regex(r"[a-z][a-z0-9_.-]{0,12}", fullmatch=True)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=names,
    priority=st.integers(-10_000, 10_000),
    tag=st.from_regex(r"[a-z]{1,10}", fullmatch=True),
    condition=st.sampled_from(["", "order.total > 5000"]),
    trigger=st.sampled_from(
        ["order.created", {"every": "15m"}, {"every": "1h"}, {"every": "2d"}, {"schedule": "18:00"}]
    ),
)
def test_a_saved_definition_reads_back_the_same_and_saving_it_again_changes_nothing(
    runtime: Runtime, name: str, priority: int, tag: str, condition: str, trigger: Any
) -> None:
    if condition and trigger != "order.created":
        condition = "today.hour > 17"
    definition = defs.from_document(
        doc(name, priority=priority, tag=tag, trigger=trigger, condition=condition)
    )
    first = defs.save(runtime, definition, "test")
    second = defs.save(runtime, definition, "test")
    assert second.outcome == "unchanged" and second.version == first.version
    with reading(runtime.engine) as conn:
        back = defs.definition_at(conn, first.id, first.version)
    assert back == definition


# --- files ---------------------------------------------------------------------------


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """\
name: tagger
trigger: order.created
actions:
  - action: add_tag
    params: {tag: seen}
"""


def test_a_directory_reports_every_problem_of_every_file_with_its_line(tmp_path: Path) -> None:
    write(tmp_path, "a-good.yaml", GOOD)
    write(tmp_path, "b-broken.yml", "name: broken\ntrigger: [order.created\n")
    write(
        tmp_path,
        "c-params.yaml",
        """\
name: bad-params
trigger: order.created
priority: 1.5
actions:
  - action: add_tag
    params: {tag: ok}
  - action: set_status
    params:
      to: shipped
      reason: "x"
      weight: 0.25
""",
    )
    write(
        tmp_path, "d-dup.yaml", GOOD.replace("trigger: order.created", "trigger: order.created\ntrigger: x")
    )
    write(tmp_path, "e-same-name.yaml", GOOD)
    write(tmp_path, "notes.txt", "not a workflow")

    problems = [str(p).replace(f"{tmp_path}/", "") for p in defs.check_dir(tmp_path)]

    assert problems[0].startswith("b-broken.yml:3: $: not valid YAML:"), problems
    assert "line 3, column 1" in problems[0]
    assert "c-params.yaml:3: priority: a whole number from -10000 to 10000" in problems
    assert any(p.startswith("c-params.yaml:9: actions[1].params.to:") for p in problems), problems
    assert any(p.startswith("c-params.yaml:11: actions[1].params.weight:") for p in problems), problems
    assert any(p.startswith("d-dup.yaml:3: trigger: 'trigger' is written twice") for p in problems), problems
    assert "e-same-name.yaml:1: name: the workflow 'tagger' is also defined in a-good.yaml" in problems
    assert not any(p.startswith(("a-good", "notes")) for p in problems)
    assert defs.check_dir(tmp_path / "a-good.yaml") == []  # one file is a folder of one
    with pytest.raises(defs.DefinitionsInvalid) as raised:
        defs.load_dir(tmp_path)
    assert len(raised.value.issues) == len(problems)


def test_yaml_values_json_cannot_keep_exactly_are_refused_and_times_stay_text(tmp_path: Path) -> None:
    write(
        tmp_path,
        "w.yaml",
        """\
name: timed
trigger: {schedule: 18:00}
actions:
  - action: call_http
    params:
      url: https://erp.example/api/orders
      body: {amount: 12.50, due: 2026-11-23}
""",
    )
    problems = defs.check_dir(tmp_path)
    assert [(p.line, p.path, p.code) for p in problems] == [
        (7, "actions[0].params.body.amount", "float_not_allowed")
    ]
    assert "'12.5'" in problems[0].message
    write(tmp_path, "w.yaml", (tmp_path / "w.yaml").read_text().replace("12.50", '"12.50"'))
    [definition] = defs.load_dir(tmp_path)
    assert definition.trigger.describe() == "every day at 18:00 UTC"
    assert definition.steps[0].params["body"] == {"amount": "12.50", "due": "2026-11-23"}


def test_an_empty_or_missing_directory_and_several_documents_are_problems(tmp_path: Path) -> None:
    assert [p.message for p in defs.check_dir(tmp_path / "nope")] == ["no such directory"]
    assert [p.message for p in defs.check_dir(tmp_path)] == ["no *.yaml or *.yml files here"]
    write(tmp_path, "two.yaml", GOOD + "---\n" + GOOD)
    write(tmp_path, "empty.yaml", "# nothing yet\n")
    messages = sorted(p.message for p in defs.check_dir(tmp_path))
    assert messages == [
        "not valid YAML: one workflow per file: this file has several YAML documents (line 6, column 1)",
        "the file is empty: a workflow is a mapping",
    ]


def test_a_small_file_that_aliases_expand_enormously_is_refused_quickly(tmp_path: Path) -> None:
    levels = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'] + [
        f"{b}: &{b} [{', '.join([f'*{a}'] * 10)}]" for a, b in zip("abcdefg", "bcdefgh", strict=True)
    ]
    write(tmp_path, "lol.yaml", GOOD + "\n".join(levels) + "\n")
    [problem] = defs.check_dir(tmp_path)
    assert (problem.code, problem.path) == ("too_large", "$")


def test_a_document_with_a_float_anywhere_is_refused_with_its_path() -> None:
    with pytest.raises(ValidationFailed) as raised:
        defs.from_document(
            doc("x", extra_thing=1.0) | {"actions": [{"action": "add_tag", "params": {"tag": 2.5}}]}
        )
    paths = {i.path for i in raised.value.issues}
    assert {"extra_thing", "actions[0].params.tag"} <= paths


# --- the documentation -----------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "workflows"


def test_the_readme_example_is_the_example_file() -> None:
    """(test_cli_workflows.py checks and loads every example, this one included)"""
    readme = (DOCS / "README.md").read_text(encoding="utf-8")
    block = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert block == (DOCS / "examples" / "high-value-approval.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(block)["condition"] == "order.total > 5000"


def test_the_readme_documents_every_trigger_and_every_registered_action() -> None:
    from legato.workflow.actions import REGISTRY
    from legato.workflow.model import TRIGGERS

    readme = (DOCS / "README.md").read_text(encoding="utf-8")
    assert [t for t in TRIGGERS if f"| `{t}` |" not in readme] == []
    shipped = [a for a, module in REGISTRY.items() if module.startswith("legato.")]  # not tests' own
    assert [a for a in shipped if f"| [`{a}`](" not in readme] == []
