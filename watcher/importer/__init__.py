"""Importing ccmgr-ultra's history (its JSON state files and its ``data.db``) and writing its
``tmux-sessions.json`` back out (``import --export-json`` and dual mode).

``formats`` (pure: bytes in, sessions and located problems out), ``plan`` (pure: what to add,
merge and skip against what the database holds), ``export`` (pure: sessions to JSON bytes),
``sources`` (finding and reading files), ``run`` (backup, plan, one transaction) and ``dual``
(the watcher's task that keeps the JSON state file current). Every SQL statement is in
:mod:`store.imports`.
"""
