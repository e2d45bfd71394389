"""What an import does to the database: add, merge or skip each session. Pure.

A session of a file is the same as a stored one when (in this order) the file carries its tmux
identity (an export's ``metadata.ccmgr_watch``) and a stored session has it, when the ids are
equal, or, for a session the file gives no tmux identity, when a session the watcher recorded has
the same name and was created within :data:`SAME_MOMENT` of it (tmux names are unique on a server
at any moment; ccmgr-ultra's own files carry no tmux identity). Such a session is merged field
by field: the file's value wins only where the stored one is empty, or where the file's record is
newer (its ``last_access`` is later); ``last_access`` never goes back; status, end and tmux
identity of a stored session are the watcher's and are never taken from a file. When nothing
changes the session is skipped and no event is added, so a second import of the same file adds
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any, Final

import msgspec

from store.reads import EventRecord, SessionRecord
from store.timefmt import parse_ts
from watcher.importer.formats import ImportedSession, ParsedFile, Problem

SAME_MOMENT: Final = timedelta(seconds=2)
_TEXT_FIELDS: Final = ("name", "project", "worktree", "branch", "directory")


class SessionUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """The columns an import changes in one stored session."""

    id: str
    changes: dict[str, Any]


class Action(msgspec.Struct, frozen=True, kw_only=True):
    """One session of one file and what becomes of it."""

    action: str  # "add" | "merge" | "skip"
    file: str
    where: str
    id: str
    name: str
    into: str  # the stored session's id
    matched_by: str | None = None  # "tmux identity" | "id" | "name and creation time"
    fields: list[str] = []
    events: int = 0


class ImportPlan(msgspec.Struct, kw_only=True):
    """Every action, the rows to write, and the problems left out."""

    actions: list[Action] = []
    problems: list[Problem] = []
    adds: list[SessionRecord] = []
    updates: list[SessionUpdate] = []
    events: list[EventRecord] = []

    @property
    def writes_anything(self) -> bool:
        """Whether applying the plan changes the database."""
        return bool(self.adds or self.updates or self.events)

    def counts(self) -> dict[str, int]:
        """How many sessions are added, merged and skipped, events added, entries bad."""
        result = {"added": 0, "merged": 0, "skipped": 0}
        for action in self.actions:
            result[{"add": "added", "merge": "merged", "skip": "skipped"}[action.action]] += 1
        result["events"] = sum(1 for e in self.events if e.event_type != "imported")
        result["bad"] = len(self.problems)
        return result


class Lookup(msgspec.Struct, kw_only=True):
    """The stored sessions an import may touch (found by id, name or tmux identity) and the
    events they already have (``(event_type, timestamp, canonical data)``)."""

    sessions: list[SessionRecord] = []
    event_keys: dict[str, set[tuple[str, str, str]]] = {}


def event_key(event_type: str, timestamp: str, data: dict[str, Any]) -> tuple[str, str, str]:
    """What makes two events the same (data compared as canonical JSON)."""
    return (event_type, timestamp, msgspec.json.encode(data, order="sorted").decode())


class _Known:
    """The stored sessions as the import changes them, indexed three ways."""

    def __init__(self, sessions: Iterable[SessionRecord]) -> None:
        self.by_id: dict[str, dict[str, Any]] = {}
        self.by_identity: dict[tuple[str, str], str] = {}
        self.by_name: dict[str, list[str]] = {}
        for session in sessions:
            self.put(session.as_dict())

    def put(self, row: dict[str, Any]) -> None:
        self.by_id[row["id"]] = row
        if row.get("tmux_server") and row.get("tmux_id"):
            self.by_identity[(row["tmux_server"], row["tmux_id"])] = row["id"]
        ids = self.by_name.setdefault(row["name"], [])
        if row["id"] not in ids:
            ids.append(row["id"])

    def match(
        self, incoming: ImportedSession, host: str | None = None
    ) -> tuple[dict[str, Any] | None, str | None]:
        if incoming.tmux_server and incoming.tmux_id:
            found = self.by_identity.get((incoming.tmux_server, incoming.tmux_id))
            if found is not None:
                return self.by_id[found], "tmux identity"
        if incoming.id in self.by_id:
            return self.by_id[incoming.id], "id"
        if incoming.tmux_server and incoming.tmux_id:
            return None, None  # its own tmux identity, not stored: another session of that name
        created = parse_ts(incoming.created_at)
        close = [
            row
            for sid in self.by_name.get(incoming.name, [])
            if (row := self.by_id[sid]).get("tmux_id")
            and (host is None or row.get("host") in (None, host))
            and abs(parse_ts(row["created_at"]) - created) <= SAME_MOMENT
        ]
        if len(close) == 1:
            return close[0], "name and creation time"
        return None, None


def _merge(row: dict[str, Any], incoming: ImportedSession) -> dict[str, Any]:
    """The columns of ``row`` that ``incoming`` changes (see the module's rules)."""
    newer = incoming.last_access > row["last_access"]
    changes: dict[str, Any] = {}
    for field in _TEXT_FIELDS:
        new, old = getattr(incoming, field), row.get(field)
        if new and new != old and (not old or newer):
            changes[field] = new
    if newer:
        changes["last_access"] = incoming.last_access
        if incoming.created_at != row["created_at"]:
            changes["created_at"] = incoming.created_at
    metadata = dict(row.get("metadata") or {})
    merged = dict(metadata)
    for key, value in incoming.metadata.items():
        if key not in merged or (newer and merged[key] != value):
            merged[key] = value
    if merged != metadata:
        changes["metadata"] = merged
    if not row.get("tmux_id") and incoming.tmux_server and incoming.tmux_id:
        changes["tmux_server"], changes["tmux_id"] = incoming.tmux_server, incoming.tmux_id
    return changes


def build_plan(
    files: Sequence[ParsedFile],
    lookup: Lookup,
    *,
    now: str,
    identity_taken: Callable[[str, str], bool] | None = None,
    host: str | None = None,
) -> ImportPlan:
    """Plan the import of ``files`` (in order: a later file merges into what an earlier one
    added) against the stored sessions in ``lookup``; ``now`` stamps the ``imported`` events.

    ``host`` (a shared store: this machine's) is recorded with the sessions and events the
    import adds, and a file's session matches by name and creation time only a session recorded
    on that host (or without one): another machine's session of the same name is another
    session. None (a SQLite file) records none, as before hosts were."""
    plan = ImportPlan()
    known = _Known(lookup.sessions)
    keys = {sid: set(found) for sid, found in lookup.event_keys.items()}
    added: set[str] = set()
    updates: dict[str, dict[str, Any]] = {}
    for parsed in files:
        plan.problems.extend(parsed.problems)
        targets: dict[str, str] = {}  # file's session id -> stored id
        for incoming in parsed.sessions:
            row, how = known.match(incoming, host)
            if row is None:
                target = _add(incoming, known, identity_taken, host)
                added.add(target["id"])
                targets[incoming.id] = target["id"]
                plan.actions.append(_action("add", parsed.file, incoming, target["id"]))
                _imported_event(plan, parsed, incoming, target["id"], now, "added", [], host)
                continue
            targets[incoming.id] = row["id"]
            changes = _merge(row, incoming)
            if not changes:
                plan.actions.append(
                    _action("skip", parsed.file, incoming, row["id"], matched_by=how)
                )
                continue
            row.update(changes)
            known.put(row)
            if row["id"] not in added:
                updates.setdefault(row["id"], {}).update(changes)
            fields = sorted(changes)
            plan.actions.append(
                _action("merge", parsed.file, incoming, row["id"], matched_by=how, fields=fields)
            )
            _imported_event(plan, parsed, incoming, row["id"], now, "merged", fields, host)
        _plan_events(plan, parsed, targets, keys, now, host)
    plan.adds = [_record(known.by_id[sid]) for sid in known.by_id if sid in added]
    plan.updates = [SessionUpdate(id=sid, changes=c) for sid, c in updates.items()]
    return plan


def _add(
    incoming: ImportedSession,
    known: _Known,
    identity_taken: Callable[[str, str], bool] | None,
    host: str | None,
) -> dict[str, Any]:
    server, tmux_id = incoming.tmux_server, incoming.tmux_id
    if server and tmux_id and identity_taken is not None and identity_taken(server, tmux_id):
        server = tmux_id = None
    row = {
        "id": incoming.id,
        "name": incoming.name,
        "project": incoming.project,
        "worktree": incoming.worktree,
        "branch": incoming.branch,
        "directory": incoming.directory,
        "created_at": incoming.created_at,
        "updated_at": incoming.last_access,
        "last_access": incoming.last_access,
        "metadata": dict(incoming.metadata),
        # A file cannot say a session is alive now: the watcher brings it back when tmux has it
        # (its reconciliation finds the session missing from the live ones and records it).
        "status": "ended",
        "ended_at": incoming.ended_at,
        "tmux_server": server,
        "tmux_id": tmux_id,
        "host": host,
    }
    known.put(row)
    return row


def _record(row: dict[str, Any]) -> SessionRecord:
    return SessionRecord(**row)


def _action(
    kind: str,
    file: str,
    incoming: ImportedSession,
    into: str,
    *,
    matched_by: str | None = None,
    fields: list[str] | None = None,
) -> Action:
    return Action(
        action=kind,
        file=file,
        where=incoming.where,
        id=incoming.id,
        name=incoming.name,
        into=into,
        matched_by=matched_by,
        fields=fields or [],
    )


def _imported_event(
    plan: ImportPlan,
    parsed: ParsedFile,
    incoming: ImportedSession,
    target: str,
    now: str,
    how: str,
    fields: list[str],
    host: str | None,
) -> None:
    data: dict[str, Any] = {"file": parsed.file, "format": parsed.format, "action": how}
    if incoming.id != target:
        data["source_id"] = incoming.id
    if fields:
        data["fields"] = fields
    plan.events.append(
        EventRecord(session_id=target, event_type="imported", timestamp=now, data=data, host=host)
    )


def _plan_events(
    plan: ImportPlan,
    parsed: ParsedFile,
    targets: dict[str, str],
    keys: dict[str, set[tuple[str, str, str]]],
    now: str,
    host: str | None,
) -> None:
    """The events of a ``data.db`` not already stored (same type, time and data); a session
    that gets only events is merged too (with its ``imported`` event)."""
    counts: dict[str, int] = {}
    for event in parsed.events:
        target = targets.get(event.session_id)
        if target is None:
            continue
        key = event_key(event.event_type, event.timestamp, event.data)
        seen = keys.setdefault(target, set())
        if key in seen:
            continue
        seen.add(key)
        counts[target] = counts.get(target, 0) + 1
        plan.events.append(
            EventRecord(
                session_id=target,
                event_type=event.event_type,
                timestamp=event.timestamp,
                data=dict(event.data),
                host=host,
            )
        )
    for index, action in enumerate(plan.actions):
        if action.file != parsed.file or action.into not in counts:
            continue
        if action.action == "skip":
            data = {"file": parsed.file, "format": parsed.format, "action": "merged"}
            plan.events.append(
                EventRecord(
                    session_id=action.into,
                    event_type="imported",
                    timestamp=now,
                    data=data,
                    host=host,
                )
            )
        plan.actions[index] = msgspec.structs.replace(
            action,
            events=counts.pop(action.into),
            action="merge" if action.action == "skip" else action.action,
        )
