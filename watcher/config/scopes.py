"""The three config scopes and the effective config with origins.

Scopes, lowest precedence first: **global** (``$XDG_CONFIG_HOME/ccmgr-ultra/config.yaml``),
**project** (``<repo>/.ccmgr-ultra/config.yaml``, shared with the team) and **user**
(``<repo>/.ccmgr-ultra/config.local.yaml``, personal, not committed). Maps merge key by key; lists
and scalars are replaced. Missing files are simply absent layers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import msgspec

from store.paths import app_dir
from watcher.config.load import CheckedFile, check_document, locate_issues, read_document
from watcher.config.locations import (
    SCOPES,
    Scope,
    resolve_scopes,
)
from watcher.config.rules import check_rules
from watcher.config.schema import Config, to_plain
from watcher.config.validate import (
    Issue,
    KeyPath,
    build_config,
    deep_merge,
)


class Origin(msgspec.Struct, frozen=True, kw_only=True):
    """Where an effective value came from: a scope's file and line, or the defaults."""

    scope: str  # "global" | "project" | "user" | "default"
    file: str | None = None
    line: int | None = None

    def render(self) -> str:
        """``project (/repo/.ccmgr-ultra/config.yaml:12)`` or ``default``."""
        if self.file is None:
            return self.scope
        return f"{self.scope} ({self.file}:{self.line})"


class Effective:
    """The merged configuration, the files it came from, and where each value came from."""

    def __init__(
        self,
        config: Config,
        tree: dict[str, Any],
        origins: dict[KeyPath, Origin],
        files: dict[Scope, CheckedFile],
        issues: list[Issue],
    ) -> None:
        self.config = config
        self.tree = tree
        self.origins = origins
        self.files = files
        self.issues = issues

    @property
    def errors(self) -> list[Issue]:
        """Issues of severity error, from every file and from the merge."""
        return [i for i in self.issues if i.severity == "error"]


def _leaves(tree: Any, keys: KeyPath = ()) -> list[KeyPath]:
    if isinstance(tree, dict) and tree:
        out: list[KeyPath] = []
        for key, value in tree.items():
            out += _leaves(value, (*keys, key))
        return out
    return [keys]


def _has(tree: Any, keys: KeyPath) -> bool:
    node = tree
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def combine(files: dict[Scope, CheckedFile]) -> Effective:
    """Merge checked scope files (pure): the effective config, its origins and every issue."""
    merged: dict[str, Any] = {}
    for scope in SCOPES:
        if scope in files:
            merged = deep_merge(merged, files[scope].tree)
    extras: dict[str, Any] = {}
    for scope in SCOPES:
        if scope in files:
            extras = deep_merge(extras, files[scope].extras)
    # Unknown keys are part of the effective tree (export keeps them) but not of the Config.
    config, filled = build_config([merged])
    # The tree shows the values in force (zero values filled as ccmgr-ultra fills them) plus the
    # unknown keys, which are not part of the Config but are kept (export passes them through).
    tree = deep_merge(to_plain(config), extras)
    origins: dict[KeyPath, Origin] = {}
    for keys in _leaves(tree):
        origin = Origin(scope="default")
        for scope in reversed(SCOPES):
            checked = files.get(scope)
            if checked is not None and (_has(checked.tree, keys) or _has(checked.extras, keys)):
                line, _ = checked.document.locate(keys)
                origin = Origin(scope=scope, file=checked.document.filename, line=line)
                break
        origins[keys] = origin
    for keys in filled:
        origins[keys] = Origin(scope="default")
    issues = [issue for scope in SCOPES if scope in files for issue in files[scope].issues]
    seen = {(i.keys, i.message) for i in issues}
    # Values that are fine alone can break a rule together (batch_size from one file, buffer_size
    # from another): report those at the file the value came from.
    for issue in check_rules(config):
        if (issue.keys, issue.message) in seen:
            continue
        issue = _locate_merged(issue, files)
        issues.append(issue)
    return Effective(config, tree, origins, files, issues)


def _locate_merged(issue: Issue, files: dict[Scope, CheckedFile]) -> Issue:
    """Locate ``issue`` in the highest scope that sets its path (or the longest prefix of it)."""
    for depth in range(len(issue.keys), 0, -1):
        for scope in reversed(SCOPES):
            checked = files.get(scope)
            if checked is not None and _has(checked.tree, issue.keys[:depth]):
                return locate_issues([issue], checked.document)[0]
    return issue


def load_scopes(paths: dict[Scope, Path]) -> dict[Scope, CheckedFile]:
    """Read and check every scope file that exists; a malformed one raises ``ConfigError``."""
    files: dict[Scope, CheckedFile] = {}
    for scope, path in paths.items():
        if path.is_file():
            files[scope] = check_document(read_document(path))
    return files


def load_effective(paths: dict[Scope, Path]) -> Effective:
    """The effective configuration of the given scope files."""
    return combine(load_scopes(paths))


def load_config(project_dir: str | os.PathLike[str] | None = None) -> Config:
    """The effective :class:`Config` for the project around the cwd (or ``project_dir``).

    Raises ``ConfigError`` naming the first error (file:line:column) when any file is invalid.
    """
    from store.errors import ConfigError

    effective = load_effective(resolve_scopes(project_dir))
    errors = effective.errors
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(
            errors[0].render() + more,
            hint=(errors[0].hint or "fix the value")
            + "; `ccmgr-watch config validate` lists every problem",
        )
    return effective.config


def database_path(config: Config, explicit: str | os.PathLike[str] | None = None) -> Path:
    """The database to use: ``--db``, else ``$CCMGR_WATCH_DB``, else ``storage.database``, else
    ``$XDG_CONFIG_HOME/ccmgr-ultra/data.db``."""
    from store.paths import DB_ENV, resolve_db_path

    if explicit or os.environ.get(DB_ENV) or not config.storage.database:
        return resolve_db_path(explicit)
    return Path(config.storage.database).expanduser()


def backup_folder(config: Config) -> Path:
    """``backup.folder``, or ``$XDG_CONFIG_HOME/ccmgr-ultra/backups`` when it is empty."""
    if config.backup.folder:
        return Path(config.backup.folder).expanduser()
    return app_dir() / "backups"
