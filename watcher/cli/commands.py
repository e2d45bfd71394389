"""The command groups the CLI registers, in the order ``--help`` lists them.

Each registrar is ``register(commands, group, db_parent)``: ``commands`` is the top-level
subparsers object, ``group(name, help)`` returns (creating once) a nested group such as
``session``, and ``db_parent`` is the parent parser that adds ``--db`` to a leaf command.
Registrars only build parsers; the work (and its imports) happens in the handlers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from watcher.cli import config_cmd, db_cmd, run_cmd, search_cmd, session_cmd

Registrar = Callable[[Any, Callable[[str, str], Any], Any], None]

REGISTRARS: list[Registrar] = [
    db_cmd.register,
    run_cmd.register,
    session_cmd.register,
    search_cmd.register,
    config_cmd.register,
]
