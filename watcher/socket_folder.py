"""``run --all``: follow the user's tmux socket folder (sockets that appear and go)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import anyio

from watcher.capture.tmux_address import is_socket

__all__ = ["watch_socket_folder"]


async def watch_socket_folder(
    folder: Path,
    added: Callable[[Iterable[str]], None],
    gone: Callable[[set[str]], None],
    stop: anyio.Event,
) -> None:
    """Report the sockets in ``folder`` now and as they come (``added``) and go (``gone``).

    Waits for the folder to exist first (no tmux server has run yet). Runs until ``stop``.
    """
    import watchfiles  # only --all needs it

    while not folder.is_dir():
        # Not even one tmux server has run yet: wait for the folder to appear.
        if not folder.parent.is_dir():
            await anyio.sleep(1)  # $TMUX_TMPDIR itself is missing: rare, poll gently
            continue
        async for _ in watchfiles.awatch(
            folder.parent,
            watch_filter=lambda _change, path: Path(path) == folder,
            recursive=False,
            debounce=50,
            stop_event=stop,
        ):
            break
    added(str(p) for p in folder.iterdir() if is_socket(p))
    async for changes in watchfiles.awatch(
        folder, watch_filter=None, recursive=False, debounce=50, step=20, stop_event=stop
    ):
        added(p for change, p in changes if change != watchfiles.Change.deleted and is_socket(p))
        left = {p for change, p in changes if change == watchfiles.Change.deleted}
        gone({p for p in left if not is_socket(p)})
