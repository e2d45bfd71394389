"""Live reload: watch the config files' folders and hand each valid new config to a callback.

Editors save by writing a new file and renaming it over the old one, so the *folders* are watched
(watchfiles), filtered to the config files themselves, and debounced. Every valid section applies;
a section with an invalid value keeps its last good values, and a file that cannot be read at all
keeps the whole last good config; the problems go to ``on_error`` with their file and line.

Use from the service's task group::

    paths = resolve_scopes(project_dir)          # watcher.config.scopes
    tg.start_soon(partial(watch_config, paths, on_change, on_error))

``on_change(effective)`` receives a :class:`watcher.config.scopes.Effective` (``.config`` is the
typed :class:`watcher.config.schema.Config`); it is called once at start with the initial config
(unless ``initial=False``) and then after every valid change that alters the effective values
(or that ends a run of errors, so a consumer showing an error learns it is over); ``on_error``
after every load that has errors.
Callbacks may be plain functions or coroutine functions.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from watcher.config.locations import Scope
from watcher.config.scopes import Effective, load_effective
from watcher.config.validate import Issue

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


def reload(paths: Mapping[Scope, Path]) -> Effective:
    """Load the effective config leniently: a file that cannot be read is left out, and it and
    every invalid value are in ``errors`` (invalid values are not used: see docs/config.md)."""
    return load_effective(dict(paths), lenient=True)


def describe_errors(effective: Effective) -> str | None:
    """The first error (with file:line) and how many more, or None when there is none."""
    errors = effective.errors
    if not errors:
        return None
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return errors[0].render() + more


def keep_last_good(new: Effective, last: Effective | None) -> Effective:
    """``new``, except that a section with an error keeps its values from ``last`` (all of it
    when a file could not be read at all); at start (no ``last``) ``new`` as it is."""
    if last is None or not new.errors:
        return new
    import msgspec

    from watcher.config.schema import Config

    sections = {f.encode_name: f.name for f in msgspec.structs.fields(Config)}
    broken = {_section(issue) for issue in new.errors}
    if None in broken:
        config = last.config
    else:
        kept = {sections[name]: getattr(last.config, sections[name]) for name in broken if name}
        config = msgspec.structs.replace(new.config, **kept)
    return Effective(config, new.tree, new.origins, new.files, new.issues)


def _section(issue: Issue) -> str | None:
    """The top-level section an issue is in; None for a whole file (unreadable)."""
    return str(issue.keys[0]) if issue.keys else None


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

    # os.path.realpath, not Path.resolve: a symlink loop in place of a config file makes
    # Path.resolve raise RuntimeError (Python < 3.13), which killed the watcher.
    targets = {str(p.absolute()) for p in paths.values()} | {
        os.path.realpath(p) for p in paths.values()
    }
    first = await anyio.to_thread.run_sync(reload, paths)
    in_force = first
    message = describe_errors(first)
    # After an error, the next load is reported even if it equals the config in force, so a
    # consumer that showed the error learns it is over.
    failing = message is not None
    if initial:  # else the caller loaded (and reported) the same files already
        await _call(on_change, first)
        if message is not None:
            await _call(on_error, message)

    while True:
        folders = _folders(paths)
        # Folders on the way to a missing file (a project without .ccmgr-ultra/ yet): when one
        # appears, watching restarts one level deeper.
        ancestors = {str(p) for path in paths.values() for p in path.parents} - {
            str(f) for f in folders
        }

        def wanted(_change: Any, path: str, ancestors: set[str] = ancestors) -> bool:
            return path in targets or path in ancestors or os.path.realpath(path) in targets

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
            applied = keep_last_good(result, in_force)
            message = describe_errors(result)
            if to_plain(applied.config) != to_plain(in_force.config) or (failing and not message):
                await _call(on_change, applied)
            in_force, failing = applied, message is not None
            if message is not None:
                await _call(on_error, message)
            if any(path in ancestors for _, path in changes) and _folders(paths) != folders:
                restart = True
                break
        if not restart:
            return
