"""Live reload with real files: valid changes reach on_change; broken ones keep the last good."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest

from tests.config.conftest import write
from watcher.config.live import watch_config
from watcher.config.locations import resolve_scopes
from watcher.config.scopes import Effective


def _replace(path: Path, text: str) -> None:
    """Save the way editors do: write a temp file beside it, then rename over it."""
    tmp = path.with_name(path.name + ".swp")
    tmp.write_text(text)
    os.replace(tmp, path)


@pytest.mark.anyio
async def test_valid_change_applies_and_broken_change_keeps_last_good(home: Path) -> None:
    paths = resolve_scopes()
    write(paths["global"], "watcher:\n    batch_size: 100\n")
    changes: list[Effective] = []
    errors: list[str] = []
    changed = anyio.Event()
    failed = anyio.Event()

    def on_change(effective: Effective) -> None:
        changes.append(effective)
        changed.set()

    async def on_error(message: str) -> None:
        errors.append(message)
        failed.set()

    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: watch_config(paths, on_change, on_error, debounce_ms=50, stop_event=stop)
        )
        with anyio.fail_after(20):
            await changed.wait()
        assert changes[-1].config.watcher.batch_size == 100
        changed = anyio.Event()

        # A valid change in the user scope (a new file in the project folder).
        _replace(paths["user"], "watcher:\n    batch_size: 250\n    flush_interval: 200ms\n")
        with anyio.fail_after(20):
            await changed.wait()
        assert changes[-1].config.watcher.batch_size == 250
        assert str(changes[-1].config.watcher.flush_interval) == "200ms"

        # A broken edit: the error names file and line; no new config is delivered.
        count = len(changes)
        _replace(paths["user"], "watcher:\n    batch_size: 250\n    flush_interval: soon\n")
        with anyio.fail_after(20):
            await failed.wait()
        assert errors[-1].startswith(f"{paths['user']}:3:5: watcher.flush_interval")
        failed = anyio.Event()
        _replace(paths["global"], "watcher:\n\tbatch_size: 1\n")  # malformed YAML too
        with anyio.fail_after(20):
            await failed.wait()
        assert errors[-1].startswith(f"{paths['global']}:2:")
        assert len(changes) == count  # the last good config stays in force

        # Fixing it brings changes back.
        changed = anyio.Event()
        _replace(paths["global"], "watcher:\n    batch_size: 7\n")
        _replace(paths["user"], "search:\n    default_limit: 5\n")
        with anyio.fail_after(20):
            await changed.wait()
        while changes[-1].config.search.default_limit != 5:
            changed = anyio.Event()
            with anyio.fail_after(20):
                await changed.wait()
        assert changes[-1].config.watcher.batch_size == 7
        stop.set()


@pytest.mark.anyio
async def test_a_project_folder_created_later_is_picked_up(home: Path, tmp_path: Path) -> None:
    project = tmp_path / "later"
    project.mkdir()
    paths = resolve_scopes(project)
    seen: list[int] = []
    changed = anyio.Event()

    def on_change(effective: Effective) -> None:
        nonlocal changed
        seen.append(effective.config.search.default_limit)
        changed.set()

    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: watch_config(paths, on_change, print, debounce_ms=50, stop_event=stop)
        )
        with anyio.fail_after(20):
            await changed.wait()
        assert seen == [20]
        (project / ".ccmgr-ultra").mkdir()
        for attempt in range(50):
            changed = anyio.Event()
            _replace(paths["project"], f"search:\n    default_limit: {30 + attempt}\n")
            with anyio.move_on_after(1):
                await changed.wait()
            if changed.is_set():
                break
        assert seen[-1] >= 30
        stop.set()
