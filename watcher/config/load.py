"""Loading one config file: read, parse, check, and locate every issue in the file.

``check_document`` is pure (a parsed document in, a checked file out); ``read_document`` and
``load_file`` are the thin I/O around it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from store.errors import ConfigError
from watcher.config.readfile import config_exists, read_config_bytes
from watcher.config.rules import check_rules
from watcher.config.schema import CURRENT_VERSION
from watcher.config.validate import (
    Issue,
    build_config,
    check_forced_bools,
    check_types,
    unknown_keys,
)

__all__ = ["config_exists", "read_config_bytes"]  # re-exported: the loader's I/O edge
from watcher.config.yamlio import (
    Document,
    decode_text,
    parse_document,
    to_plain,
)

DEFAULT_VERSION = "0.9.0"
"""What ccmgr-ultra's ``DetectConfigVersion`` assumes when a file has no ``version``."""


def parse_version(text: str) -> tuple[int, int, int]:
    """``"2.0.0"`` → ``(2, 0, 0)``; ccmgr-ultra compares versions as integer triples."""
    parts = text.strip().lstrip("v").split(".")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a version: {text!r}")
    numbers = [int(p) for p in parts] + [0] * (3 - len(parts))
    return numbers[0], numbers[1], numbers[2]


def file_version(tree: dict[str, Any]) -> str:
    """The version a file declares, read as ccmgr-ultra does (missing or empty means 0.9.0)."""
    value = tree.get("version")
    if value is None or value == "":
        return DEFAULT_VERSION
    return str(value)


class CheckedFile:
    """A parsed file with its checked values and its located issues."""

    def __init__(
        self,
        document: Document,
        tree: dict[str, Any],
        issues: list[Issue],
        extras: dict[str, Any] | None = None,
    ) -> None:
        self.document = document
        self.tree = tree  # the values that passed the type check, plain data
        self.issues = issues
        self.extras = extras or {}  # the keys the schema does not know, kept as written

    @property
    def errors(self) -> list[Issue]:
        """Issues of severity error."""
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        """Issues of severity warning."""
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def version(self) -> str:
        """The file's declared version (0.9.0 when it has none)."""
        return file_version(to_plain(self.document.data))


def locate_issues(issues: list[Issue], document: Document) -> list[Issue]:
    """The issues with file, line and column filled in from ``document``."""
    located = []
    for issue in issues:
        line, col = document.locate(issue.keys)
        located.append(
            msgspec.structs.replace(issue, file=document.filename, line=line, column=col)
        )
    return located


def check_document(document: Document) -> CheckedFile:
    """Type-check, rule-check and locate everything in one parsed file."""
    raw = to_plain(document.data)
    tree, issues = check_types(raw)
    issues += check_forced_bools(tree)
    version = file_version(raw)
    if "version" in raw:
        try:
            ours = parse_version(CURRENT_VERSION)
            if parse_version(version) > ours:
                issues.append(
                    Issue(
                        keys=("version",),
                        message=f"version {version} is newer than this ccmgr-watch "
                        f"understands ({CURRENT_VERSION})",
                        severity="warning",
                        hint="upgrade ccmgr-watch; settings it does not know are kept as written",
                    )
                )
        except ValueError:
            issues.append(
                Issue(
                    keys=("version",),
                    message=f'expected a version like "{CURRENT_VERSION}", got {version!r}',
                    hint="ccmgr-ultra compares versions as three numbers, MAJOR.MINOR.PATCH",
                )
            )
            tree.pop("version", None)
    config, _ = build_config([tree])
    broken = check_rules(config)
    for issue in broken:
        # An invalid value is not used: the lower scope's, else the default, applies instead
        # (docs/config.md, "Invalid values"). check_types already left out wrong types.
        drop_path(tree, issue.keys)
    issues += broken
    return CheckedFile(document, tree, locate_issues(issues, document), unknown_keys(raw))


def drop_path(tree: dict[str, Any], keys: tuple[str | int, ...]) -> bool:
    """Remove the value at ``keys`` from plain ``tree`` if it is there; True if it was."""
    node: Any = tree
    for key in keys[:-1]:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    if keys and isinstance(node, dict) and keys[-1] in node:
        del node[keys[-1]]
        return True
    return False


def read_document(path: Path, *, label: str | None = None) -> Document:
    """Read and parse ``path``; a missing, unreadable, special or malformed file is a
    ``ConfigError``."""
    name = label or str(path)
    return parse_document(decode_text(read_config_bytes(path, label=name), name), name)


def load_file(path: Path, *, label: str | None = None) -> CheckedFile:
    """Read, parse and check one file; problems are issues, malformed YAML raises."""
    return check_document(read_document(path, label=label))


def raise_for_errors(checked: CheckedFile) -> None:
    """Raise a ``ConfigError`` naming the first error (and how many more) if there are any."""
    errors = checked.errors
    if not errors:
        return
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    raise ConfigError(
        first.render() + more,
        hint=(first.hint or "fix the value")
        + f"; `ccmgr-watch config validate {checked.document.filename}` lists every problem",
    )
