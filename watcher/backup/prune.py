"""Deleting backups: one by id, or what the retention policy no longer keeps."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from typing import Any

from store.errors import CcmgrError, UsageError
from store.timefmt import utcnow
from watcher.backup.catalog import (
    Entry,
    Settings,
    dependents,
    folder_lock,
    list_backups,
    resolve,
    write_index,
)
from watcher.backup.rotation import Decision, EmptyPolicyError, plan_rotation

log = logging.getLogger("ccmgr_watch.backup")


def delete_backup(settings: Settings, wanted: str) -> Entry:
    """Delete one backup; refused while other backups build on it."""
    folder = settings.folder
    with folder_lock(folder):
        entries = list_backups(folder, settings.keys)
        target = resolve(entries, wanted)
        needing = dependents(entries, target)
        if needing:
            names = ", ".join(e.id for e in needing)
            raise CcmgrError(
                f"backup {target.id} is needed by {names}",
                hint="delete those incremental backups first (newest first)",
            )
        (folder / target.file).unlink()
        write_index(folder, [e for e in entries if e.id != target.id])
    log.info("backup %s deleted", target.id)
    return target


def plan(settings: Settings, now: datetime | None = None) -> list[Decision]:
    """What the retention policy keeps and removes, newest first (UsageError: keeps nothing)."""
    entries = list_backups(settings.folder, settings.keys)
    return _plan(entries, settings, now)


def _plan(entries: list[Entry], settings: Settings, now: datetime | None) -> list[Decision]:
    unreadable = [e.id for e in entries if not e.readable]
    if unreadable:
        # Without its manifest, a backup's parent is unknown: pruning could break its chain.
        raise CcmgrError(
            f"cannot read the manifest of {', '.join(unreadable)}: nothing is pruned",
            hint="`ccmgr-watch backup list --identity FILE` (or with the passphrase set) "
            "reads them into the index; or delete the damaged files",
        )
    try:
        return plan_rotation([e.ref() for e in entries], settings.policy, (now or utcnow()))
    except EmptyPolicyError:
        raise UsageError(
            "backup.retention keeps nothing: pruning would delete every backup",
            hint="set at least one of keep_last, keep_hourly, keep_daily, keep_weekly, "
            "keep_monthly above 0",
        ) from None


def prune_backups(
    settings: Settings, *, dry_run: bool = False, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Apply the retention policy; returns every backup with keep/remove and the reasons."""
    folder = settings.folder
    if not folder.is_dir():
        return []
    with folder_lock(folder):
        entries = list_backups(folder, settings.keys)
        decisions = _plan(entries, settings, now)
        by_id = {e.id: e for e in entries}
        removed: set[str] = set()
        if not dry_run:
            for decision in decisions:
                if decision.keep:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    (folder / by_id[decision.backup.id].file).unlink()
                removed.add(decision.backup.id)
                log.info("backup %s pruned", decision.backup.id)
            write_index(folder, [e for e in entries if e.id not in removed])
    return [
        {
            "id": d.backup.id,
            "kind": d.backup.kind,
            "action": "keep" if d.keep else "remove",
            "reasons": list(d.reasons),
            "file": by_id[d.backup.id].file,
        }
        for d in decisions
    ]
