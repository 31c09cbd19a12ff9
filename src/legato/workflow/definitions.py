"""Workflow definitions: read from YAML files, checked, saved as versions, read back for the engine.

A directory of ``*.yaml`` / ``*.yml`` files, one workflow per file, is checked as a whole:
every YAML error and every definition error of every file is reported with the file and the
line PyYAML gives, and nothing is saved unless every file is valid (``load_dir`` then
``save_all``, one transaction). The same checks run on a document sent to the API
(``from_document``), so a workflow that saves is a workflow that can run.

Numbers with a fraction are refused wherever they appear (``12.50`` is a float in YAML and JSON,
and money is never a float): write them as strings. Dates stay text (``2026-11-23`` is not turned
into a date object), and a key written twice in one mapping is an error, not a silent overwrite.

``active_for`` is what the engine calls for every event: one indexed query for the active
workflows on the trigger, definitions parsed once per (workflow, version) and cached.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from sqlalchemy import Connection, Engine

from legato.domain.errors import FieldIssue, LegatoError, NotFound, ValidationFailed
from legato.store import workflows as store
from legato.store.db import write_lock
from legato.workflow.model import Definition, parse

if TYPE_CHECKING:
    from legato.bootstrap import Runtime

log = logging.getLogger("legato.workflow")
SUFFIXES = (".yaml", ".yml")


class DefinitionsInvalid(ValidationFailed):
    """One or more workflow files are not valid; each issue names its file and line."""

    code = "invalid_workflows"
    title = "The workflow files are not valid"


@dataclass(frozen=True)
class Problem:
    """One problem in one file: where (file, line, field path) and what."""

    file: Path
    line: int | None
    path: str  # the field, as in the API's errors: actions[1].params.to; "$" for the whole file
    message: str
    code: str = "invalid"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.path}: {self.message}"


_INT = "tag:yaml.org,2002:int"
#: YAML 1.1 integers without the base-60 form, which reads ``schedule: 18:00`` as 1080
_DECIMAL_INT = re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$")


class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves dates, times and times of day as text (JSON has no date type)."""

    yaml_implicit_resolvers = {
        first: [
            (tag, _DECIMAL_INT if tag == _INT else rx)
            for tag, rx in resolvers
            if tag != "tag:yaml.org,2002:timestamp"
        ]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


# --- documents ---------------------------------------------------------------------


#: how deep a definition's values may nest (params of params ...): deeper is surely a mistake
MAX_DEPTH = 20


_BAD_TEXT = "text may not hold NUL (\\u0000) characters or unpaired surrogates"


def _text(value: str) -> bool:
    """Text every database keeps: UTF-8 without NUL (PostgreSQL refuses both in JSONB)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\0" not in value


def json_issues(value: Any, path: str, depth: int = 0) -> list[FieldIssue]:
    """Values JSON (or PostgreSQL's JSONB) cannot keep exactly: floats (write them as strings),
    NUL characters, values nested too deep, anything not JSON."""
    if isinstance(value, str):
        return [] if _text(value) else [FieldIssue(path, _BAD_TEXT, "invalid")]
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return []
    if isinstance(value, float):
        shown = value if math.isfinite(value) else str(value)
        msg = f"write the number {value!r} as a string ('{value}'): numbers with a fraction are not exact"
        return [FieldIssue(path, msg, "float_not_allowed", shown)]
    if depth >= MAX_DEPTH and isinstance(value, Mapping | list | tuple):
        return [FieldIssue(path, f"nested more than {MAX_DEPTH} levels deep", "too_deep")]
    if isinstance(value, Mapping):
        out: list[FieldIssue] = []
        for key, item in value.items():
            if not isinstance(key, str) or not _text(key):
                out.append(FieldIssue(path, f"a key is not text, or {_BAD_TEXT}: {key!r}", "invalid"))
                continue
            out.extend(json_issues(item, f"{path}.{key}" if path != "$" else key, depth + 1))
        return out
    if isinstance(value, list | tuple):
        return [
            issue for i, item in enumerate(value) for issue in json_issues(item, f"{path}[{i}]", depth + 1)
        ]
    return [FieldIssue(path, f"not a JSON value: {type(value).__name__}", "invalid", str(value))]


def from_document(doc: Any) -> Definition:
    """A checked definition from a document (parsed YAML or a JSON body): ValidationFailed
    names every problem by its path (``actions[1].params.to``, ``condition``)."""
    issues = json_issues(doc, "$") if isinstance(doc, Mapping) else []
    if any(i.code == "too_deep" for i in issues):  # not handed to the checks: they may recurse
        raise ValidationFailed(
            f"the workflow is not valid: {issues[0].path}: {issues[0].message}", issues=issues
        )
    try:
        definition = parse(doc)
    except LegatoError as exc:
        found = exc.issues or [FieldIssue("$", exc.detail, exc.code)]
        said = {i.path for i in found}  # the definition's own words win (priority: a whole number)
        issues = [i for i in issues if i.path not in said] + found
    if issues:
        raise ValidationFailed(
            f"the workflow is not valid: {issues[0].path}: {issues[0].message}", issues=issues
        )
    return definition


_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def document(definition: Definition) -> dict[str, Any]:
    """The definition as saved and shown: ``as_dict()``, with an interval in its largest whole
    unit (``{every: 2d}``, not ``172800s``, which is too long to read back)."""
    doc = definition.as_dict()
    seconds = definition.trigger.every_seconds
    if seconds:
        unit, size = next((u, n) for u, n in _UNITS if seconds % n == 0)
        doc["trigger"] = {"every": f"{seconds // size}{unit}"}
    return doc


def stored(doc: Mapping[str, Any]) -> Definition:
    """A definition as saved (already checked then): not checked again."""
    return parse(doc, check=False)


# --- files -------------------------------------------------------------------------


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else "$"


#: values a file may expand to: YAML aliases can make a small file enormous ("billion laughs")
MAX_VALUES = 100_000


class _TooLarge(Exception):
    pass


def _walk(node: yaml.Node, path: str, lines: dict[str, int], problems: list[tuple[str, str, int]]) -> None:
    """Note the line of every path and every key written twice in a mapping."""
    lines.setdefault(path, node.start_mark.line + 1)
    if len(lines) > MAX_VALUES:
        raise _TooLarge
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
            child = name if path == "$" else f"{path}.{name}"
            if name in seen:
                problems.append(
                    (child, f"{name!r} is written twice in this mapping", key.start_mark.line + 1)
                )
            seen.add(name)
            lines[child] = key.start_mark.line + 1
            _walk(value, child, lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, f"{path}[{i}]", lines, problems)


def _line(path: str, lines: Mapping[str, int]) -> int | None:
    while path not in lines and path != "$":
        path = _parent(path)
    return lines.get(path)


def read_file(file: Path) -> tuple[Definition | None, list[Problem]]:
    """One workflow file: its definition, or every problem in it with its line."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(file, None, "$", f"cannot read the file: {exc}", "unreadable")]
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        doc = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        what = " ".join(str(p) for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        if "expected a single document" in what:
            what = "one workflow per file: this file has several YAML documents"
        line = mark.line + 1 if mark is not None else None
        return None, [Problem(file, line, "$", f"not valid YAML: {what or exc}{at}", "invalid_yaml")]
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    duplicates: list[tuple[str, str, int]] = []
    if node is not None:
        try:
            _walk(node, "$", lines, duplicates)
        except _TooLarge:
            msg = f"the file expands to more than {MAX_VALUES} values (through YAML aliases?)"
            return None, [Problem(file, None, "$", msg, "too_large")]
    problems = [Problem(file, line, path, msg, "duplicate_key") for path, msg, line in duplicates]
    if doc is None:
        problems.append(Problem(file, 1, "$", "the file is empty: a workflow is a mapping", "required"))
        return None, problems
    try:
        definition = from_document(doc)
    except ValidationFailed as exc:
        problems.extend(Problem(file, _line(i.path, lines), i.path, i.message, i.code) for i in exc.issues)
        return None, sorted(problems, key=lambda p: p.line or 0)
    return (definition, []) if not problems else (None, problems)


def _read_dir(directory: Path) -> tuple[list[tuple[Path, Definition]], list[Problem]]:
    if directory.is_file():  # one file is a folder of one
        files = [directory]
    elif not directory.is_dir():
        return [], [Problem(directory, None, "$", "no such directory", "not_found")]
    else:
        files = sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES and p.is_file())
    if not files:
        return [], [Problem(directory, None, "$", "no *.yaml or *.yml files here", "empty")]
    found: list[tuple[Path, Definition]] = []
    problems: list[Problem] = []
    names: dict[str, Path] = {}
    for file in files:
        definition, issues = read_file(file)
        problems.extend(issues)
        if definition is None:
            continue
        if definition.name in names:
            msg = f"the workflow {definition.name!r} is also defined in {names[definition.name].name}"
            problems.append(Problem(file, _name_line(file), "name", msg, "duplicate"))
            continue
        names[definition.name] = file
        found.append((file, definition))
    return found, problems


def _name_line(file: Path) -> int | None:
    for i, text in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        if text.startswith("name:"):
            return i
    return None


def check_dir(directory: Path | str) -> list[Problem]:
    """Every problem in every workflow file of ``directory`` (empty: all valid)."""
    return _read_dir(Path(directory))[1]


def load_dir(directory: Path | str) -> list[Definition]:
    """The workflows of ``directory`` (files in name order), or DefinitionsInvalid naming
    every problem of every file (the issue path is ``file:line field``)."""
    found, problems = _read_dir(Path(directory))
    if problems:
        raise DefinitionsInvalid(
            f"{len(problems)} problem(s) in the workflow files: {problems[0]}",
            issues=[FieldIssue(f"{p.file}:{p.line or 0} {p.path}", p.message, p.code) for p in problems],
        )
    return [definition for _, definition in found]


# --- saving ------------------------------------------------------------------------


def _save(conn: Connection, definition: Definition, actor: str, now: datetime) -> store.Saved:
    return store.save(
        conn,
        definition.name,
        document(definition),
        trigger=definition.trigger.event,
        priority=definition.priority,
        active=definition.active,
        actor=actor,
        now=now,
    )


def save(rt: Runtime, definition: Definition, actor: str) -> store.Saved:
    """Save one (checked) definition: created, a new version, or unchanged."""
    return save_all(rt, [definition], actor)[0]


def save_all(rt: Runtime, definitions: Sequence[Definition], actor: str) -> list[store.Saved]:
    """Save checked definitions in one transaction: all of them or none."""
    now = datetime.now(UTC)
    with write_lock(rt.engine), rt.engine.begin() as conn:
        return [_save(conn, d, actor, now) for d in definitions]


def set_active(rt: Runtime, name: str, active: bool) -> bool:
    """Enable or disable a workflow (no new version); True if that changed anything."""
    with write_lock(rt.engine), rt.engine.begin() as conn:
        changed = store.set_active(conn, name, active, datetime.now(UTC))
    if changed is None:
        raise NotFound(f"no workflow {name!r}")
    return changed


# --- reading for the engine ----------------------------------------------------------

_CACHE: weakref.WeakKeyDictionary[Engine, dict[tuple[int, int], Definition]] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()
_CACHE_MAX = 10_000


def _cache(conn: Connection) -> dict[tuple[int, int], Definition]:
    engine = conn.engine
    with _CACHE_LOCK:
        found = _CACHE.get(engine)
        if found is None or len(found) > _CACHE_MAX:
            found = _CACHE[engine] = {}
        return found


def _definitions(conn: Connection, keys: list[tuple[int, int]]) -> dict[tuple[int, int], Definition]:
    """Definitions by (workflow id, version): versions never change, so each is parsed once."""
    cache = _cache(conn)
    missing = [k for k in keys if k not in cache]
    for key, doc in store.documents(conn, missing).items():
        try:
            cache[key] = stored(doc)
        except LegatoError:  # a version saved by an older Legato that this one cannot read
            log.exception("workflow %s version %s cannot be read; it is skipped", *key)
    return {k: cache[k] for k in keys if k in cache}


def active_for(conn: Connection, event_type: str) -> list[tuple[int, int, Definition]]:
    """(workflow id, version, definition) of the active workflows triggered by ``event_type``,
    in the order they run: higher priority first, equal priority by name."""
    rows = sorted(store.active_rows(conn, event_type), key=lambda r: (-r[2], r[3]))
    found = _definitions(conn, [(wid, version) for wid, version, _, _ in rows])
    return [(wid, version, found[(wid, version)]) for wid, version, _, _ in rows if (wid, version) in found]


def definition_at(conn: Connection, workflow_id: int, version: int) -> Definition:
    """The definition a run uses (its recorded version), whatever was saved since."""
    found = _definitions(conn, [(workflow_id, version)])
    if (workflow_id, version) not in found:
        raise NotFound(f"no version {version} of workflow {workflow_id}")
    return found[(workflow_id, version)]


__all__ = [
    "SUFFIXES",
    "DefinitionsInvalid",
    "Problem",
    "active_for",
    "check_dir",
    "definition_at",
    "document",
    "from_document",
    "json_issues",
    "load_dir",
    "read_file",
    "save",
    "save_all",
    "set_active",
    "stored",
]
