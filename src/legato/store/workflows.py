"""Workflow definitions in the store: one ``workflows`` row per name, one immutable
``workflow_versions`` row per saved edit.

The store keeps documents (``Definition.as_dict()``) and the columns the engine filters on
(trigger, priority, active); it cannot import ``legato.workflow`` (a layer above), so turning
documents into ``Definition`` objects is ``legato.workflow.definitions``' job.

``active`` is operational state, not part of a version: enabling or disabling a workflow
flips the column and makes no new version, so a run's version always names the rules it ran.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from legato.domain.errors import DuplicateKey
from legato.store.workflow_tables import jobs, workflow_runs, workflow_versions, workflows

_W, _V, _R, _J = workflows, workflow_versions, workflow_runs, jobs

#: what ``save`` did: a new workflow, a new version, nothing, or only the active flag
OUTCOMES = ("created", "updated", "unchanged", "enabled", "disabled")


@dataclass(frozen=True)
class Saved:
    id: int
    name: str
    version: int
    outcome: str  # one of OUTCOMES
    active: bool


@dataclass(frozen=True)
class StoredWorkflow:
    """A workflow's current version with how often it fired and failed."""

    id: int
    name: str
    version: int
    trigger: str
    priority: int
    active: bool
    created_at: datetime
    updated_at: datetime
    document: dict[str, Any]  # the current version's definition
    fired: int = 0  # runs started
    failed: int = 0  # steps now dead-lettered (a retried one no longer counts)
    last_fired_at: datetime | None = None


@dataclass(frozen=True)
class StoredVersion:
    workflow_id: int
    name: str
    version: int
    document: dict[str, Any]
    created_at: datetime
    created_by: str


def _normal(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document as JSON gives it back (lists, not tuples), without the active flag."""
    doc: dict[str, Any] = json.loads(json.dumps(dict(document)))
    doc.pop("active", None)
    return doc


def save(
    conn: Connection,
    name: str,
    document: Mapping[str, Any],
    *,
    trigger: str,
    priority: int,
    active: bool,
    actor: str,
    now: datetime,
) -> Saved:
    """Create the workflow (version 1), or add a version when the document changed; an
    unchanged document saves nothing (only the active flag, if that differs)."""
    row = conn.execute(
        select(_W.c.id, _W.c.version, _W.c.active).where(_W.c.name == name).with_for_update()
    ).first()
    if row is None:
        try:
            with conn.begin_nested():
                wid = conn.execute(
                    insert(_W)
                    .values(
                        name=name,
                        version=1,
                        trigger=trigger,
                        priority=priority,
                        active=active,
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(_W.c.id)
                ).scalar_one()
        except IntegrityError:
            raise DuplicateKey(f"the workflow {name!r} was created at the same time; save again") from None
        _add_version(conn, wid, 1, document, actor, now)
        return Saved(wid, name, 1, "created", active)
    current = conn.execute(
        select(_V.c.definition).where(_V.c.workflow_id == row.id, _V.c.version == row.version)
    ).scalar_one()
    if _normal(current) == _normal(document):
        if row.active == active:
            return Saved(row.id, name, row.version, "unchanged", active)
        conn.execute(update(_W).where(_W.c.id == row.id).values(active=active, updated_at=now))
        return Saved(row.id, name, row.version, "enabled" if active else "disabled", active)
    version = row.version + 1
    _add_version(conn, row.id, version, document, actor, now)
    conn.execute(
        update(_W)
        .where(_W.c.id == row.id)
        .values(version=version, trigger=trigger, priority=priority, active=active, updated_at=now)
    )
    return Saved(row.id, name, version, "updated", active)


def outcome_of(conn: Connection, name: str, document: Mapping[str, Any], active: bool) -> tuple[str, int]:
    """What ``save`` would do with this document now, and the version it would have."""
    row = conn.execute(
        select(_W.c.version, _W.c.active, _V.c.definition)
        .join(_V, (_V.c.workflow_id == _W.c.id) & (_V.c.version == _W.c.version))
        .where(_W.c.name == name)
    ).first()
    if row is None:
        return "created", 1
    if _normal(row.definition) != _normal(document):
        return "updated", row.version + 1
    if row.active == active:
        return "unchanged", row.version
    return ("enabled" if active else "disabled"), row.version


def _add_version(
    conn: Connection, wid: int, version: int, document: Mapping[str, Any], actor: str, now: datetime
) -> None:
    conn.execute(
        insert(_V).values(
            workflow_id=wid,
            version=version,
            definition=json.loads(json.dumps(dict(document))),
            created_at=now,
            created_by=actor[:120],
        )
    )


def set_active(conn: Connection, name: str, active: bool, now: datetime) -> bool | None:
    """Enable or disable a workflow: True if that changed something, False if it already was,
    None if there is no such workflow."""
    row = conn.execute(select(_W.c.id, _W.c.active).where(_W.c.name == name).with_for_update()).first()
    if row is None:
        return None
    if row.active == active:
        return False
    conn.execute(update(_W).where(_W.c.id == row.id).values(active=active, updated_at=now))
    return True


def _stats(conn: Connection, ids: list[int]) -> dict[int, tuple[int, int, datetime | None]]:
    """(runs started, dead steps, last run) per workflow id, in two grouped queries."""
    if not ids:
        return {}
    runs = conn.execute(
        select(_R.c.workflow_id, func.count(), func.max(_R.c.started_at))
        .where(_R.c.workflow_id.in_(ids))
        .group_by(_R.c.workflow_id)
    ).all()
    dead: dict[int, int] = {
        wid: n
        for wid, n in conn.execute(
            select(_R.c.workflow_id, func.count())
            .select_from(_J.join(_R, _R.c.id == _J.c.run_id))
            .where(_J.c.state == "dead", _J.c.kind == "step", _R.c.workflow_id.in_(ids))
            .group_by(_R.c.workflow_id)
        )
    }
    fired = {wid: (int(n), last) for wid, n, last in runs}
    return {
        wid: (fired.get(wid, (0, None))[0], int(dead.get(wid, 0)), fired.get(wid, (0, None))[1])
        for wid in ids
    }


def _current(conn: Connection, name: str | None = None) -> list[Any]:
    query = select(_W, _V.c.definition).join(
        _V, (_V.c.workflow_id == _W.c.id) & (_V.c.version == _W.c.version)
    )
    if name is not None:
        query = query.where(_W.c.name == name)
    return list(conn.execute(query.order_by(_W.c.name)))


def _workflow(r: Any, stats: tuple[int, int, datetime | None]) -> StoredWorkflow:
    return StoredWorkflow(
        r.id,
        r.name,
        r.version,
        r.trigger,
        r.priority,
        r.active,
        r.created_at,
        r.updated_at,
        dict(r.definition),
        *stats,
    )


def list_workflows(conn: Connection) -> list[StoredWorkflow]:
    """Every workflow at its current version, by name, with its counts."""
    rows = _current(conn)
    stats = _stats(conn, [r.id for r in rows])
    return [_workflow(r, stats[r.id]) for r in rows]


def get_workflow(conn: Connection, name: str) -> StoredWorkflow | None:
    rows = _current(conn, name)
    if not rows:
        return None
    return _workflow(rows[0], _stats(conn, [rows[0].id])[rows[0].id])


def get_version(conn: Connection, name: str, version: int | None = None) -> StoredVersion | None:
    """One version of a workflow (the current one when ``version`` is None)."""
    query = select(_V, _W.c.name).join(_W, _W.c.id == _V.c.workflow_id).where(_W.c.name == name)
    query = query.where(_V.c.version == (_W.c.version if version is None else version))
    r = conn.execute(query).first()
    if r is None:
        return None
    return StoredVersion(r.workflow_id, r.name, r.version, dict(r.definition), r.created_at, r.created_by)


def list_versions(conn: Connection, name: str) -> list[StoredVersion] | None:
    """Every version of a workflow, oldest first; None if there is no such workflow."""
    rows = conn.execute(
        select(_V, _W.c.name)
        .join(_W, _W.c.id == _V.c.workflow_id)
        .where(_W.c.name == name)
        .order_by(_V.c.version)
    ).all()
    if not rows:
        return None
    return [
        StoredVersion(r.workflow_id, r.name, r.version, dict(r.definition), r.created_at, r.created_by)
        for r in rows
    ]


def active_rows(conn: Connection, trigger: str) -> list[tuple[int, int, int, str]]:
    """(id, version, priority, name) of the active workflows on ``trigger``: one query on the
    (trigger, active) index, no documents (the caller caches those by id and version)."""
    query = select(_W.c.id, _W.c.version, _W.c.priority, _W.c.name).where(
        _W.c.trigger == trigger, _W.c.active.is_(True)
    )
    return [(r.id, r.version, r.priority, r.name) for r in conn.execute(query)]


def documents(conn: Connection, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], dict[str, Any]]:
    """The definitions of these (workflow id, version) pairs."""
    wanted = list(keys)
    if not wanted:
        return {}
    rows = conn.execute(
        select(_V.c.workflow_id, _V.c.version, _V.c.definition).where(
            tuple_(_V.c.workflow_id, _V.c.version).in_(wanted)
        )
    )
    return {(r.workflow_id, r.version): dict(r.definition) for r in rows}


__all__ = [
    "OUTCOMES",
    "Saved",
    "StoredVersion",
    "StoredWorkflow",
    "active_rows",
    "documents",
    "get_version",
    "get_workflow",
    "list_versions",
    "list_workflows",
    "outcome_of",
    "save",
    "set_active",
]
