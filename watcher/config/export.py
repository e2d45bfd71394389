"""Shaping settings for ``config show`` and ``config export``: YAML or JSON, secrets hidden.

Secrets are hidden unless the caller asks for them (``export --include-secrets``); what counts as
one is ``watcher.config.secrets``. The CLI prints what these functions return.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from watcher.config.diff import show
from watcher.config.secrets import redact_document, redact_plain, redact_text
from watcher.config.validate import dotted, get_path
from watcher.config.yamlio import dump_document, dump_plain, to_plain

if TYPE_CHECKING:
    from watcher.config.scopes import Effective
    from watcher.config.yamlio import Document


def as_text(value: Any, fmt: str) -> str:
    """Plain data as indented JSON (``fmt == "json"``) or as YAML the way yaml.v3 writes it."""
    if fmt == "json":
        return msgspec.json.format(msgspec.json.encode(value), indent=2).decode() + "\n"
    return dump_plain(value)


def redacted_yaml(doc: Document) -> str:
    """The document as YAML with every secret hidden, in values and in comments (``doc``'s
    secrets are replaced in place: it is read for printing only)."""
    known = redact_document(doc.data)
    return redact_text(dump_document(doc), known)


def show_effective(effective: Effective, fmt: str, *, origin: bool) -> str:
    """The effective settings, redacted; with ``origin``, where each value came from."""
    tree = redact_plain(effective.tree)
    if not origin:
        return as_text(tree, fmt)
    if fmt == "json":
        origins = {dotted(k): o.render() for k, o in effective.origins.items()}
        return as_text({"config": tree, "origins": origins}, "json")
    return "".join(
        f"{dotted(keys)}: {show(get_path(tree, keys))}    # {o.render()}\n"
        for keys, o in effective.origins.items()
    )


def show_scope(doc: Document, fmt: str, *, origin: bool) -> str:
    """One scope's file as written (YAML keeps its comments), redacted; with ``origin``, the
    settings and the file's name."""
    if fmt == "yaml" and not origin:
        return redacted_yaml(doc)
    tree: Any = redact_plain(to_plain(doc.data))
    if origin:
        tree = {"config": tree, "file": doc.filename}
    return as_text(tree, fmt)


def export_scope(doc: Document, fmt: str, *, include_secrets: bool) -> str:
    """One scope's file for export: as written, secrets redacted unless ``include_secrets``."""
    if not include_secrets:
        return show_scope(doc, fmt, origin=False)
    return dump_document(doc) if fmt == "yaml" else as_text(to_plain(doc.data), fmt)
