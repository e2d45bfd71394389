"""Live reload: watch the config files' folders and hand each valid new config to a callback.

Editors save by writing a new file and renaming it over the old one, so the *folders* are watched
(watchfiles), filtered to the config files themselves, and debounced. A change that does not load
or validate goes to ``on_error`` with its file and line, and the last good config stays in force.

Use from the service's task group::

    paths = resolve_scopes(project_dir)          # watcher.config.scopes
    tg.start_soon(partial(watch_config, paths, on_change, on_error))

``on_change(effective)`` receives a :class:`watcher.config.scopes.Effective` (``.config`` is the
typed :class:`watcher.config.schema.Config`); it is called once at start with the initial config
(unless ``initial=False``) and then after every valid change that alters the effective values
(or that ends a run of errors, so a consumer showing an error learns it is over).
Callbacks may be plain functions or coroutine functions.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from store.errors import ConfigError
from watcher.config.locations import Scope
from watcher.config.scopes import Effective, load_effective

OnChange = Callable[[Effective], Awaitable[None] | None]
OnError = Callable[[str], Awaitable[None] | None]


def _folders(paths: Mapping[Scope, Path]) -> list[Path]:
    """The nearest existing folder of each file (a missing project folder: its parent)."""
    found: list[Path] = []
    for path in paths.values():
        folder = path.parent
        while not folder.exists() and folder.parent != folder:
            folder = folder.parent
        if folder not in found:
            found.append(folder)
    return found


def reload(paths: Mapping[Scope, Path]) -> Effective | str:
    """Load and validate the effective config: the config, or an error message with file:line."""
    try:
        effective = load_effective(dict(paths))
    except ConfigError as exc:
        return exc.message
    errors = effective.errors
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return errors[0].render() + more
    return effective


async def _call(callback: Callable[[Any], Awaitable[None] | None], value: Any) -> None:
    result = callback(value)
    if inspect.isawaitable(result):
        await result


async def watch_config(
    paths: Mapping[Scope, Path],
    on_change: OnChange,
    on_error: OnError,
    *,
    debounce_ms: int = 300,
    initial: bool = True,
    stop_event: anyio.Event | None = None,
) -> None:
    """Watch ``paths`` until cancelled (or ``stop_event`` is set); see the module docstring."""
    stop = stop_event or anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(_watch, paths, on_change, on_error, debounce_ms, initial, stop)
        try:
            await stop.wait()
        finally:
            # watchfiles waits in a thread that notices ``stop`` (every 50 ms), not cancellation:
            # set it inside the task group, or cancelling us would wait out the thread's timeout.
            stop.set()


async def _watch(
    paths: Mapping[Scope, Path],
    on_change: OnChange,
    on_error: OnError,
    debounce_ms: int,
    initial: bool,
    stop_event: anyio.Event,
) -> None:
    try:
        await _watch_until_stopped(paths, on_change, on_error, debounce_ms, initial, stop_event)
    finally:
        stop_event.set()


async def _watch_until_stopped(
    paths: Mapping[Scope, Path],
    on_change: OnChange,
    on_error: OnError,
    debounce_ms: int,
    initial: bool,
    stop_event: anyio.Event,
) -> None:
    from watchfiles import awatch

    from watcher.config.schema import to_plain

    targets = {str(p.absolute()) for p in paths.values()} | {
        str(p.resolve()) for p in paths.values()
    }
    last_good: dict[str, Any] | None = None
    # After an error, the next valid load is reported even if it equals the last good config,
    # so a consumer that showed the error learns it is over.
    failing = False
    first = await anyio.to_thread.run_sync(reload, paths)
    if isinstance(first, str):
        failing = True
        await _call(on_error, first)
    else:
        last_good = to_plain(first.config)
        if initial:
            await _call(on_change, first)

    while True:
        folders = _folders(paths)
        # Folders on the way to a missing file (a project without .ccmgr-ultra/ yet): when one
        # appears, watching restarts one level deeper.
        ancestors = {str(p) for path in paths.values() for p in path.parents} - {
            str(f) for f in folders
        }

        def wanted(_change: Any, path: str, ancestors: set[str] = ancestors) -> bool:
            return path in targets or path in ancestors or str(Path(path).resolve()) in targets

        restart = False
        async for changes in awatch(
            *folders,
            watch_filter=wanted,
            debounce=debounce_ms,
            step=50,
            recursive=False,
            stop_event=stop_event,
        ):
            result = await anyio.to_thread.run_sync(reload, paths)
            if isinstance(result, str):
                failing = True
                await _call(on_error, result)
            else:
                plain = to_plain(result.config)
                if plain != last_good or failing:
                    last_good, failing = plain, False
                    await _call(on_change, result)
            if any(path in ancestors for _, path in changes) and _folders(paths) != folders:
                restart = True
                break
        if not restart:
            return
