"""The command groups the CLI registers, in the order ``--help`` lists them.

Each entry names a registrar module and every top-level command or group it adds (a group that
two modules share, such as ``session``, is listed by both). The module's
``register(commands, group, db_parent)`` builds its parsers: ``commands`` is the top-level
subparsers object, ``group(name, help)`` returns (creating once) a nested group such as
``session``, and ``db_parent`` is the parent parser that adds ``--db`` to a leaf command.
Registrars only build parsers and import only argparse-level modules at module level; the work
(and its imports) happens in the handlers. ``ccmgr-watch`` imports and runs only the registrars
whose commands appear on its command line (every one for ``--help`` or input it does not know),
so one command's start-up does not pay for building every other command's parsers.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Registrar = Callable[[Any, Callable[[str, str], Any], Any], None]

REGISTRARS: list[tuple[str, tuple[str, ...]]] = [
    ("watcher.cli.db_cmd", ("db",)),
    ("watcher.cli.run_cmd", ("run", "status")),
    ("watcher.cli.session_cmd", ("session",)),
    ("watcher.cli.search_cmd", ("query", "session")),
    ("watcher.cli.config_cmd", ("config",)),
    ("watcher.cli.backup_cmd", ("backup",)),
    ("watcher.cli.service_cmd", ("service",)),
    ("watcher.cli.doctor_cmd", ("doctor",)),
    ("watcher.cli.completion_cmd", ("completion",)),
    ("watcher.cli.stats_cmd", ("stats",)),
    ("watcher.cli.revive_cmd", ("revive",)),
    ("watcher.cli.import_cmd", ("import",)),
    ("watcher.cli.pick_cmd", ("pick",)),
]
