"""``ccmgr-watch config``: show, validate, export, import, diff, merge and migrate config files.

Argument parsing and printing only: the settings are shaped by ``watcher.config.export``, imports
merged by ``watcher.config.merge``, changes and conflicts redacted by ``watcher.config.diff``.
Every write goes through ``watcher.config.writer.atomic_write`` (temp file, fsync, rename, 0600);
secrets are never printed unless ``export --include-secrets`` asks for them, and every handler's
output also passes through ``watcher.config.secrets``' text filter on the way out.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from watcher.config.diff import Change
    from watcher.config.load import CheckedFile
    from watcher.config.locations import Scope
    from watcher.config.validate import Issue
    from watcher.config.yamlio import Document

_PROFILES = ("global", "project", "user", "effective")
_SCOPES = ("global", "project", "user")


def register(commands: Any, group: Callable[[str, str], Any], db_parent: Any) -> None:
    """Add the ``config`` command group (no ``--db``: no config command opens a database)."""
    config = group("config", "Show, check, export, import, diff, merge and migrate config files.")
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "--project-dir",
        metavar="DIR",
        help="the project whose .ccmgr-ultra/ files to use (default: found from the current "
        "folder: the nearest folder with .ccmgr-ultra/ or .git)",
    )

    show = config.add_parser(
        "show",
        parents=[where],
        help="print a scope's settings or the effective configuration",
        description="Print the settings of one scope file, or the effective configuration "
        "(defaults < global < project < user). Secrets are always redacted.",
    )
    show.add_argument("--profile", choices=_PROFILES, default="effective", help="which settings")
    show.add_argument("--origin", action="store_true", help="say where each value came from")
    show.add_argument("--format", choices=("yaml", "json"), default="yaml", help="output format")
    show.add_argument("--json", action="store_true", help="same as --format json")
    show.set_defaults(handler=_guarded(run_show))

    validate = config.add_parser(
        "validate",
        parents=[where],
        help="check a file (or every scope file) and list every problem",
        description="Check FILE, or every scope file that exists and their combination. Lists "
        "every problem with file:line:column, key path and a hint. Exit 3 if there are errors "
        "(warnings alone exit 0).",
    )
    validate.add_argument("file", nargs="?", metavar="FILE", help="the file to check")
    validate.add_argument("--json", action="store_true", help="print the issues as JSON")
    validate.set_defaults(handler=_guarded(run_validate))

    export = config.add_parser(
        "export",
        parents=[where],
        help="write a scope's settings or the effective configuration to stdout or a file",
        description="Export settings as YAML or JSON. Secrets are redacted unless "
        "--include-secrets is given.",
    )
    export.add_argument("--profile", choices=_PROFILES, default="effective", help="which settings")
    export.add_argument("--format", choices=("yaml", "json"), default="yaml", help="output format")
    export.add_argument("--json", action="store_true", help="same as --format json")
    export.add_argument("-o", "--output", metavar="FILE", help="write here (0600) instead")
    export.add_argument(
        "--include-secrets", action="store_true", help="keep github/gitlab/bitbucket tokens"
    )
    export.set_defaults(handler=_guarded(run_export))

    imp = config.add_parser(
        "import",
        parents=[where],
        help="merge a file into a scope, or replace the scope with it",
        description="Validate FILE, then deep-merge it into the scope's file (--merge, the "
        "default) or replace the scope's file with it (--replace). The change is shown as a "
        "diff; --dry-run writes nothing. Redacted secrets in FILE keep the current value.",
    )
    imp.add_argument("file", metavar="FILE", help="a YAML (or JSON) config file")
    mode = imp.add_mutually_exclusive_group()
    mode.add_argument(
        "--merge",
        dest="mode",
        action="store_const",
        const="merge",
        help="deep-merge FILE into the scope's file, keeping its comments (the default)",
    )
    mode.add_argument(
        "--replace",
        dest="mode",
        action="store_const",
        const="replace",
        help="replace the scope's file with FILE (its redacted secrets keep the current value)",
    )
    imp.set_defaults(mode="merge")
    imp.add_argument("--profile", choices=_SCOPES, default="global", help="the scope to change")
    imp.add_argument("--dry-run", action="store_true", help="show the change, write nothing")
    imp.add_argument("--json", action="store_true", help="print the change as JSON")
    imp.set_defaults(handler=_guarded(run_import))

    diff = config.add_parser(
        "diff",
        help="compare two config files key by key",
        description="Path-addressed, type-aware comparison (durations by value). Exit 0 when "
        "they are the same, 1 when they differ, like diff(1).",
    )
    diff.add_argument("file1", metavar="FILE1")
    diff.add_argument("file2", metavar="FILE2")
    diff.add_argument("--json", action="store_true", help="print the changes as JSON")
    diff.set_defaults(handler=_guarded(run_diff))

    merge = config.add_parser(
        "merge",
        help="three-way merge of config files",
        description="Merge the changes BASE→OURS and BASE→THEIRS. Changes to different keys "
        "both apply; the same change applies once; different changes to one key are conflicts "
        "(listed on stderr; exit 1 unless --strategy resolves them). The result keeps OURS' "
        "comments and layout; it goes to stdout or -o FILE.",
    )
    merge.add_argument("base", metavar="BASE")
    merge.add_argument("ours", metavar="OURS")
    merge.add_argument("theirs", metavar="THEIRS")
    merge.add_argument("-o", "--output", metavar="FILE", help="write the result here (0600)")
    merge.add_argument("--strategy", choices=("ours", "theirs"), help="resolve conflicts")
    merge.add_argument("--json", action="store_true", help="print result and conflicts as JSON")
    merge.set_defaults(handler=_guarded(run_merge))

    migrate = config.add_parser(
        "migrate",
        parents=[where],
        help="upgrade scope files to the current config version",
        description="Upgrade every scope file that exists (or --profile's) through ccmgr-ultra's "
        "versions to ccmgr-watch's. Shows the change as a diff and keeps the old file as "
        "<file>.backup.YYYYMMDD-HHMMSS. Running it again changes nothing.",
    )
    migrate.add_argument("--profile", choices=_SCOPES, help="only this scope")
    migrate.add_argument("--dry-run", action="store_true", help="show the change, write nothing")
    migrate.add_argument("--json", action="store_true", help="print what changed as JSON")
    migrate.set_defaults(handler=_guarded(run_migrate))


# --- helpers -----------------------------------------------------------------------------------


class _RedactingStream:
    """A text stream that hides token-shaped strings in everything written to it."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        from watcher.config.secrets import redact_text

        return int(self._stream.write(redact_text(text)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``handler`` with stdout and stderr filtered through the secrets' text filter (the last
    net: a token in a comment, a message or a key nobody knows is still hidden), unless
    ``--include-secrets``."""

    def run(args: argparse.Namespace) -> int:
        if getattr(args, "include_secrets", False):
            return handler(args)
        from store.errors import CcmgrError
        from watcher.config.secrets import redact_text

        out, err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _RedactingStream(out), _RedactingStream(err)
        try:
            return handler(args)
        except CcmgrError as exc:
            # Printed by the entry point after this returns: a YAML error can quote a value
            # (ruamel's "found duplicate key ... with value ...").
            exc.message = redact_text(exc.message)
            exc.hint = redact_text(exc.hint) if exc.hint else exc.hint
            raise
        finally:
            sys.stdout, sys.stderr = out, err

    run.__doc__ = handler.__doc__
    return run


def _scopes(args: argparse.Namespace) -> dict[Scope, Path]:
    from watcher.config.locations import resolve_scopes

    return resolve_scopes(getattr(args, "project_dir", None))


def _scope_path(args: argparse.Namespace, scope: str) -> Path:
    from store.errors import ConfigError

    paths = _scopes(args)
    if scope not in paths:
        raise ConfigError(
            f"no project found for the {scope} scope",
            hint="run inside a repository (a folder with .git or .ccmgr-ultra/) or pass "
            "--project-dir DIR",
        )
    return paths[scope]  # type: ignore[index,unused-ignore]


def _check_output(output: str | None) -> None:
    """``-o FILE`` must be in a folder that exists: a typo must not create folders (exit 2)."""
    if output is None:
        return
    from pathlib import Path

    from store.errors import UsageError

    folder = Path(output).parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise UsageError(
            f"-o {output}: the folder {folder} {what}; nothing was written",
            hint="create the folder first, or write somewhere else",
        )


def _exists(path: Path) -> bool:
    from watcher.config.readfile import config_exists

    return config_exists(path)


def _read(path: str | Path) -> Document:
    from watcher.config.readfile import read_document

    return read_document(path)


def _print_issues(issues: list[Issue]) -> None:
    for issue in issues:
        sys.stdout.write(issue.render() + "\n")
        if issue.hint:
            sys.stdout.write(f"    hint: {issue.hint}\n")


def _issue_json(issue: Issue) -> dict[str, Any]:
    return {
        "file": issue.file,
        "line": issue.line,
        "column": issue.column,
        "path": issue.path,
        "severity": issue.severity,
        "message": issue.message,
        "hint": issue.hint,
    }


def _print_changes(changes: list[Change]) -> None:
    for change in changes:
        sys.stdout.write(change.render() + "\n")


def _refuse_errors(checked: CheckedFile, what: str) -> None:
    from store.errors import ConfigError

    if checked.errors:
        _print_issues(checked.errors)
        raise ConfigError(
            f"{what} has {len(checked.errors)} error(s); nothing was written",
            hint="fix the problems listed above and run the command again",
        )


# --- handlers ----------------------------------------------------------------------------------


def run_show(args: argparse.Namespace) -> int:
    """Handler of ``config show``."""
    from store.errors import ConfigError
    from watcher.config.export import show_effective, show_scope
    from watcher.config.scopes import load_effective

    fmt = "json" if args.json else args.format
    if args.profile == "effective":
        effective = load_effective(_scopes(args))
        for issue in effective.errors:  # docs/config.md, "Invalid values": shown, not used
            sys.stderr.write(effective.fallback(issue) + "\n")
        sys.stdout.write(show_effective(effective, fmt, origin=args.origin))
        return 0
    path = _scope_path(args, args.profile)
    if not _exists(path):
        raise ConfigError(
            f"the {args.profile} scope has no file ({path})",
            hint=f"create it with `ccmgr-watch config import FILE --profile {args.profile}`",
        )
    sys.stdout.write(show_scope(_read(path), fmt, origin=args.origin))
    return 0


def run_validate(args: argparse.Namespace) -> int:
    """Handler of ``config validate``."""
    from store.errors import ConfigError
    from watcher.cli.output import print_json
    from watcher.config.load import check_document
    from watcher.config.scopes import load_effective

    if args.file:
        checked = check_document(_read(args.file))
        issues = checked.issues
        files = [args.file]
    else:
        paths = _scopes(args)
        effective = load_effective(paths)
        issues = effective.issues
        files = [str(p) for p in paths.values() if _exists(p)]
    errors = [i for i in issues if i.severity == "error"]
    if args.json:
        print_json({"files": files, "ok": not errors, "issues": [_issue_json(i) for i in issues]})
        return ConfigError.exit_code if errors else 0
    _print_issues(issues)
    if not files:
        sys.stdout.write("no config files found; the defaults apply\n")
    warnings = len(issues) - len(errors)
    if errors:
        raise ConfigError(
            f"{len(errors)} error(s), {warnings} warning(s) in {', '.join(files)}",
            hint="fix the errors listed above; warnings are informational",
        )
    if files:
        sys.stdout.write(f"ok: {', '.join(files)} ({warnings} warning(s))\n")
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Handler of ``config export``."""
    from pathlib import Path

    from store.errors import ConfigError
    from watcher.config.export import as_text, export_scope
    from watcher.config.load import check_document
    from watcher.config.scopes import load_effective
    from watcher.config.secrets import redact_plain
    from watcher.config.writer import atomic_write

    _check_output(args.output)
    fmt = "json" if args.json else args.format
    if args.profile == "effective":
        effective = load_effective(_scopes(args))
        if effective.errors:
            # The effective values of an invalid config are partly defaults standing in for the
            # invalid values: exported, they would look chosen. Refuse, like `validate`.
            _print_issues(effective.errors)
            raise ConfigError(
                f"the configuration has {len(effective.errors)} error(s); nothing was exported",
                hint="fix the errors listed above (`ccmgr-watch config validate` lists every "
                "problem), or export one scope's file as written with --profile",
            )
        tree = effective.tree
        text = as_text(tree if args.include_secrets else redact_plain(tree), fmt)
    else:
        path = _scope_path(args, args.profile)
        if not _exists(path):
            raise ConfigError(
                f"the {args.profile} scope has no file ({path})", hint="nothing to export"
            )
        doc = _read(path)
        for issue in check_document(doc).errors:  # exported as written, but not silently
            sys.stderr.write(f"warning: {issue.render()} (exported as written)\n")
        text = export_scope(doc, fmt, include_secrets=args.include_secrets)
    if args.output:
        atomic_write(Path(args.output), text, create_folder=False)
        sys.stderr.write(f"wrote {args.output}\n")
    else:
        sys.stdout.write(text)
    return 0


def run_import(args: argparse.Namespace) -> int:
    """Handler of ``config import``."""
    from watcher.cli.output import print_json
    from watcher.config.diff import apply_changes, diff_trees, redact_changes
    from watcher.config.load import check_document
    from watcher.config.merge import merge_import
    from watcher.config.writer import atomic_write
    from watcher.config.yamlio import dump_document, dump_plain, parse_document, to_plain

    incoming = _read(args.file)
    _refuse_errors(check_document(incoming), args.file)
    target = _scope_path(args, args.profile)
    current = _read(target) if _exists(target) else parse_document("", str(target))
    old = to_plain(current.data)
    imported = merge_import(old, to_plain(incoming.data), replace=args.mode == "replace")
    changes = diff_trees(old, imported.tree)
    if args.mode == "merge":
        result: Document = current
        apply_changes(result.data, changes)
    elif incoming.data.fa.flow_style():
        # A JSON file (JSON is YAML): keep the scope file in block style, as ccmgr-ultra does.
        result = parse_document(dump_plain(imported.incoming), str(target))
    else:
        result = incoming
        apply_changes(result.data, imported.fixes)
    text = dump_document(result)
    _refuse_errors(check_document(parse_document(text, str(target))), "the result")
    shown = redact_changes(changes)
    if args.json:
        print_json(
            {
                "file": str(target),
                "mode": args.mode,
                "dry_run": args.dry_run,
                "changes": [c.to_json() for c in shown],
                "redacted_kept": imported.kept,
                "redacted_left_out": imported.left_out,
            }
        )
    else:
        _print_changes(shown)
        scope = f"the {args.profile} file"
        for path in imported.kept:
            sys.stdout.write(f"{path}: redacted in {args.file}; {scope} keeps its own value\n")
        for path in imported.left_out:
            sys.stdout.write(f"{path}: redacted in {args.file} and not set in {scope}; left out\n")
    if not changes and _exists(target):
        if not args.json:
            sys.stdout.write(f"no changes to {target}\n")
        return 0
    if args.dry_run:
        if not args.json:
            sys.stdout.write(f"dry run: {target} not written\n")
        return 0
    atomic_write(target, text)
    if not args.json:
        sys.stdout.write(f"wrote {target}\n")
    return 0


def run_diff(args: argparse.Namespace) -> int:
    """Handler of ``config diff``."""
    from watcher.cli.output import print_json
    from watcher.config.diff import diff_trees, redact_changes
    from watcher.config.yamlio import to_plain

    a = to_plain(_read(args.file1).data)
    b = to_plain(_read(args.file2).data)
    changes = redact_changes(diff_trees(a, b))
    if args.json:
        print_json({"same": not changes, "changes": [c.to_json() for c in changes]})
    else:
        _print_changes(changes)
    return 1 if changes else 0


def run_merge(args: argparse.Namespace) -> int:
    """Handler of ``config merge``."""
    from pathlib import Path

    from watcher.cli.output import print_json
    from watcher.config.diff import apply_changes, diff_trees, merge3, redact_conflict
    from watcher.config.secrets import redact_plain
    from watcher.config.writer import atomic_write
    from watcher.config.yamlio import dump_document, to_plain

    _check_output(args.output)
    base, ours_doc, theirs = (_read(p) for p in (args.base, args.ours, args.theirs))
    ours = to_plain(ours_doc.data)
    result = merge3(to_plain(base.data), ours, to_plain(theirs.data), strategy=args.strategy)
    apply_changes(ours_doc.data, diff_trees(ours, result.tree))
    text = dump_document(ours_doc)
    for conflict in result.conflicts:
        state = f"resolved as {args.strategy}" if args.strategy else "CONFLICT"
        sys.stderr.write(f"{state}: {redact_conflict(conflict).render()}\n")
    if args.json:
        print_json(
            {
                "resolved": result.resolved,
                "conflicts": [redact_conflict(c).to_json() for c in result.conflicts],
                "result": redact_plain(result.tree),
            }
        )
    if not result.resolved:
        sys.stderr.write(
            f"{len(result.conflicts)} conflict(s); nothing written. "
            "Edit one side, or pass --strategy ours|theirs.\n"
        )
        return 1
    if args.output:
        atomic_write(Path(args.output), text, create_folder=False)
        sys.stderr.write(f"wrote {args.output}\n")
    elif not args.json:
        sys.stdout.write(text)
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    """Handler of ``config migrate``."""
    from watcher.cli.output import print_json
    from watcher.config.diff import diff_trees, redact_changes
    from watcher.config.migrate import migrate_tree
    from watcher.config.writer import atomic_write, backup_file
    from watcher.config.yamlio import dump_document, parse_document, to_plain

    paths = _scopes(args)
    if args.profile:
        paths = {args.profile: _scope_path(args, args.profile)}
    report = []
    for scope, path in paths.items():
        if not _exists(path):
            continue
        doc = _read(path)
        before = to_plain(doc.data)
        work = parse_document(doc.text, doc.filename)
        steps = migrate_tree(work.data, add_sections=scope == "global")
        changes = redact_changes(diff_trees(before, to_plain(work.data)))
        entry: dict[str, Any] = {
            "scope": scope,
            "file": str(path),
            "steps": steps,
            "changes": [c.to_json() for c in changes],
            "backup": None,
        }
        report.append(entry)
        if not args.json:
            if not steps:
                sys.stdout.write(f"{path}: already current\n")
                continue
            # The change is shown before anything is written.
            sys.stdout.write(f"{path}:\n")
            _print_changes(changes)
            sys.stdout.flush()
        if steps and not args.dry_run:
            entry["backup"] = str(backup_file(path))
            atomic_write(path, dump_document(work))
        if not args.json:
            if args.dry_run:
                sys.stdout.write("dry run: not written\n")
            else:
                sys.stdout.write(f"upgraded; the old file is {entry['backup']}\n")
    if args.json:
        print_json({"dry_run": args.dry_run, "files": report})
    elif not report:
        sys.stdout.write("no config files found\n")
    return 0
