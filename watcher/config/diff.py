"""Path-addressed, type-aware diff of config trees, applying a diff, and a three-way merge.

All pure functions of plain data (dicts, lists, scalars). Durations compare by their value, so
``2s`` and ``2000ms`` are the same setting; anything else compares by value and type, so ``5`` and
``"5"`` differ. Maps are compared key by key; lists and scalars are compared whole.
"""

from __future__ import annotations

import copy
import json
from collections.abc import MutableMapping, Sequence
from typing import Any, Final, Literal

import msgspec

from watcher.config.duration import Duration
from watcher.config.schema import Config
from watcher.config.secrets import REDACTED, is_secret_key, redact_plain
from watcher.config.validate import KeyPath, dotted


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""Stands for "no such key" on one side of a diff or merge."""

ChangeKind = Literal["added", "removed", "changed"]


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """One difference: a key added, removed, or changed from ``old`` to ``new``."""

    keys: tuple[str | int, ...]
    kind: ChangeKind
    old: Any = None
    new: Any = None

    @property
    def path(self) -> str:
        """The dotted key path."""
        return dotted(self.keys)

    def render(self) -> str:
        """``tmux.monitor_interval: 2s → 5s``, ``+ storage.database: x``, ``- hooks: {...}``."""
        if self.kind == "added":
            return f"+ {self.path}: {show(self.new)}"
        if self.kind == "removed":
            return f"- {self.path}: {show(self.old)}"
        text = f"{self.path}: {show(self.old)} → {show(self.new)}"
        if isinstance(self.old, list) and isinstance(self.new, list):
            gone = [show(v) for v in self.old if v not in self.new]
            came = [show(v) for v in self.new if v not in self.old]
            parts = [f"+{v}" for v in came] + [f"-{v}" for v in gone]
            if parts:
                text += f"  ({', '.join(parts)})"
            elif self.old != self.new:
                text += "  (reordered)"
        return text

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: path, keys, kind, old, new."""
        out: dict[str, Any] = {"path": self.path, "keys": list(self.keys), "kind": self.kind}
        if self.kind != "added":
            out["old"] = self.old
        if self.kind != "removed":
            out["new"] = self.new
        return out


def show(value: Any) -> str:
    """A compact YAML-like rendering of a value for one line of a diff."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        plain = value and value.strip() == value and not any(c in value for c in ":#{}[],\n'\"")
        return value if plain else json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    return str(value)


def _duration_paths() -> set[KeyPath]:
    found: set[KeyPath] = set()

    def walk(cls: type, keys: KeyPath) -> None:
        for field in msgspec.structs.fields(cls):
            if field.type is Duration:
                found.add((*keys, field.encode_name))
            elif isinstance(field.type, type) and issubclass(field.type, msgspec.Struct):
                walk(field.type, (*keys, field.encode_name))

    walk(Config, ())
    return found


_DURATIONS: Final = _duration_paths()


def same(a: Any, b: Any, keys: KeyPath = ()) -> bool:
    """Type-aware equality: durations by value, bool never equal to int, maps key by key."""
    if keys in _DURATIONS and isinstance(a, str) and isinstance(b, str):
        try:
            return Duration.parse(a) == Duration.parse(b)
        except ValueError:
            return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], (*keys, k)) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y, keys) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def diff_trees(old: Any, new: Any, keys: KeyPath = ()) -> list[Change]:
    """The changes that turn ``old`` into ``new``, in ``old``'s key order then ``new``'s."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[Change] = []
        for key, value in old.items():
            here = (*keys, key)
            if key not in new:
                changes.append(Change(keys=here, kind="removed", old=value))
            else:
                changes += diff_trees(value, new[key], here)
        for key, value in new.items():
            if key not in old:
                changes.append(Change(keys=(*keys, key), kind="added", new=value))
        return changes
    if same(old, new, keys):
        return []
    return [Change(keys=keys, kind="changed", old=old, new=new)]


def apply_changes(tree: MutableMapping[str, Any], changes: Sequence[Change]) -> None:
    """Apply ``changes`` to ``tree`` in place (plain dicts or a round-trip document's map)."""
    from ruamel.yaml.comments import CommentedMap

    from watcher.config.yamlio import node_key, to_node

    wrap = isinstance(tree, CommentedMap)
    for change in changes:
        parent: Any = tree
        if change.kind == "removed":
            for key in change.keys[:-1]:
                parent = parent.get(key) if isinstance(parent, MutableMapping) else None
            if isinstance(parent, MutableMapping):
                parent.pop(change.keys[-1], None)
            continue
        for key in change.keys[:-1]:
            if not isinstance(parent.get(key), MutableMapping):
                parent[node_key(str(key)) if wrap else key] = CommentedMap() if wrap else {}
            parent = parent[key]
        last = change.keys[-1]
        value = copy.deepcopy(change.new)
        if wrap:
            parent[last if last in parent else node_key(str(last))] = to_node(value)
        else:
            parent[last] = value


# --- three-way merge ---------------------------------------------------------------------------


class Conflict(msgspec.Struct, frozen=True, kw_only=True):
    """Both sides changed ``keys`` from ``base``, differently. MISSING values are shown as None."""

    keys: tuple[str | int, ...]
    base: Any
    ours: Any
    theirs: Any

    @property
    def path(self) -> str:
        """The dotted key path."""
        return dotted(self.keys)

    def render(self) -> str:
        """``tmux.monitor_interval: ours 5s, theirs 10s (base 2s)``."""

        def side(v: Any) -> str:
            return "(removed)" if v is MISSING else show(v)

        return (
            f"{self.path}: ours {side(self.ours)}, theirs {side(self.theirs)} "
            f"(base {side(self.base)})"
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; a removed side is ``null`` with ``*_removed: true``."""
        out: dict[str, Any] = {"path": self.path, "keys": list(self.keys)}
        for name in ("base", "ours", "theirs"):
            value = getattr(self, name)
            out[name] = None if value is MISSING else value
            if value is MISSING:
                out[f"{name}_removed"] = True
        return out


class MergeResult(msgspec.Struct, frozen=True, kw_only=True):
    """The merged tree and the conflicts (resolved by a strategy, or left as ours)."""

    tree: dict[str, Any]
    conflicts: list[Conflict]
    resolved: bool


Strategy = Literal["ours", "theirs"]


def merge3(
    base: dict[str, Any],
    ours: dict[str, Any],
    theirs: dict[str, Any],
    *,
    strategy: Strategy | None = None,
) -> MergeResult:
    """Three-way merge: one-sided changes apply, identical changes apply once, and differing
    changes to one key are conflicts (kept as ``strategy`` says; ours when unresolved)."""
    conflicts: list[Conflict] = []
    merged = _merge(base, ours, theirs, (), conflicts, strategy)
    tree = merged if isinstance(merged, dict) else {}
    return MergeResult(tree=tree, conflicts=conflicts, resolved=not conflicts or bool(strategy))


def _merge(
    base: Any,
    ours: Any,
    theirs: Any,
    keys: KeyPath,
    conflicts: list[Conflict],
    strategy: Strategy | None,
) -> Any:
    if _same(ours, theirs, keys):
        return ours
    if _same(base, ours, keys):
        return theirs
    if _same(base, theirs, keys):
        return ours
    if isinstance(ours, dict) and isinstance(theirs, dict):
        b = base if isinstance(base, dict) else {}
        result: dict[str, Any] = {}
        for key in [*ours, *(k for k in theirs if k not in ours)]:
            value = _merge(
                b.get(key, MISSING),
                ours.get(key, MISSING),
                theirs.get(key, MISSING),
                (*keys, key),
                conflicts,
                strategy,
            )
            if value is not MISSING:
                result[key] = value
        return result
    conflicts.append(Conflict(keys=keys, base=base, ours=ours, theirs=theirs))
    return theirs if strategy == "theirs" else ours


def _same(a: Any, b: Any, keys: KeyPath) -> bool:
    if a is MISSING or b is MISSING:
        return a is b
    return same(a, b, keys)


def redact_changes(changes: Sequence[Change]) -> list[Change]:
    """``changes`` with secret values hidden, for printing."""
    out = []
    for change in changes:
        if change.keys and is_secret_key(change.keys[-1]):
            change = msgspec.structs.replace(
                change,
                old=REDACTED if change.old else change.old,
                new=REDACTED if change.new else change.new,
            )
        else:
            change = msgspec.structs.replace(
                change, old=redact_plain(change.old), new=redact_plain(change.new)
            )
        out.append(change)
    return out


def redact_conflict(conflict: Conflict) -> Conflict:
    """``conflict`` with secret values hidden, for printing."""
    secret = bool(conflict.keys) and is_secret_key(conflict.keys[-1])

    def hide(value: Any) -> Any:
        if value is MISSING:
            return value
        return REDACTED if secret and value not in (None, "") else redact_plain(value)

    return msgspec.structs.replace(
        conflict, base=hide(conflict.base), ours=hide(conflict.ours), theirs=hide(conflict.theirs)
    )
