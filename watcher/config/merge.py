"""Merging config trees: scopes laid over each other, and a file imported into a scope. Pure.

Maps merge key by key; lists and scalars are replaced (ccmgr-ultra's rule for its scopes).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from watcher.config.diff import Change, apply_changes
from watcher.config.secrets import REDACTED
from watcher.config.validate import KeyPath, dotted, get_path


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` laid on ``base``: maps merge key by key; lists and scalars are replaced."""
    result = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = value
    return result


def layer(trees: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """``trees`` laid over each other, lowest precedence first (shares subtrees with them)."""
    merged: dict[str, Any] = {}
    for tree in trees:
        merged = deep_merge(merged, tree)
    return merged


class Imported(msgspec.Struct, frozen=True, kw_only=True):
    """A file merged into (or replacing) a scope's tree, its placeholders resolved."""

    tree: dict[str, Any]  # the scope's tree after the import
    incoming: dict[str, Any]  # the imported tree, placeholders resolved
    fixes: list[Change]  # how the placeholders were resolved, as changes to the imported tree
    kept: list[str]  # placeholders that keep the scope's own value (dotted paths)
    left_out: list[str]  # placeholders the scope has no value for: left out


def merge_import(old: dict[str, Any], incoming: dict[str, Any], *, replace: bool) -> Imported:
    """``incoming`` deep-merged into ``old`` (or replacing it), placeholders resolved.

    An exported file has ``<redacted>`` placeholders (tokens, and anything that looked like one).
    A placeholder is never written as a value: the scope keeps its own value, or, when it has
    none, the key is left out (an empty token in a project file would override the real one from
    the global file for ccmgr-ultra). ``incoming`` is changed in place.
    """
    fixes: list[Change] = []
    kept: list[str] = []
    left_out: list[str] = []

    def unredact(node: Any, keys: KeyPath) -> None:
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            here = (*keys, key)
            if not (value == REDACTED or (isinstance(value, list) and REDACTED in value)):
                unredact(value, here)
                continue
            try:
                prior = get_path(old, here)
            except KeyError:
                prior = None
            if prior is None:
                fixes.append(Change(keys=here, kind="removed", old=value))
                left_out.append(dotted(here))
            else:
                fixes.append(Change(keys=here, kind="changed", old=value, new=prior))
                kept.append(dotted(here))

    unredact(incoming, ())
    apply_changes(incoming, fixes)
    tree = incoming if replace else deep_merge(old, incoming)
    return Imported(tree=tree, incoming=incoming, fixes=fixes, kept=kept, left_out=left_out)
