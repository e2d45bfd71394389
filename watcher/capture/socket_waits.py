"""One folder watch for every server task that waits for its tmux server.

tmux (3.3a at least) never removes its socket file when its server exits, so a user's socket
folder fills with files of ended ``-L NAME`` servers, and ``run --all`` starts a server task for
each. Each task waiting with its own watchfiles watch costs an inotify instance and a thread:
with 124 such files a watcher held 127 inotify instances (Linux allows 128 per user by default,
shared with editors and every other program of that user) and 169 threads. Here one watch per
set of folders serves every waiting task: it runs in the service's task group, and each change
in a watched folder wakes only the tasks whose socket changed.

A waiter is woken when its socket's :func:`~watcher.capture.server_task.socket_mark` differs
from the mark its task took before looking for a server (a new server binds a new file; a
stale file keeps its mark, so nothing spins), when the socket's own folder appears (the waiter
watched an ancestor and must now watch that folder), or when the folder it watched vanishes.
Marks are compared after every (re)arming as well, so a change during the moment the watch is
re-armed for a new folder is never missed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import anyio

from watcher.capture.server_task import SocketMark, socket_mark

__all__ = ["SocketWaits"]

log = logging.getLogger("ccmgr_watch.server")


class _Waiter:
    """One task waiting for its socket to change."""

    def __init__(self, socket_path: str, since: SocketMark) -> None:
        self.path = socket_path
        self.since = since
        self.parent = Path(socket_path).parent
        folder = self.parent
        while not folder.is_dir() and folder != folder.parent:
            folder = folder.parent
        self.folder = folder  # the nearest existing folder: the socket's own once tmux made it
        self.woken = anyio.Event()

    def changed(self) -> bool:
        """Whether this waiter's task should look for its server again."""
        if socket_mark(self.path) != self.since:
            return True
        if self.folder != self.parent and self.parent.is_dir():
            return True  # its folder appeared: watch that one now
        return not self.folder.is_dir()  # what it watched is gone: look again


class SocketWaits:
    """Waits for tmux servers to appear, for many sockets, through one folder watch.

    Run :meth:`run` in a task group for as long as :meth:`wait` may be called.
    """

    def __init__(self, *, retry_after_failure: float = 1.0) -> None:
        self._waiters: set[_Waiter] = set()
        self._rearm = anyio.Event()
        self._watched: frozenset[Path] = frozenset()
        self._retry_after_failure = retry_after_failure
        self.armings = 0
        """How many times a watch was (re)armed: for tests and the debug log."""

    async def wait(self, socket_path: str, timeout: float, *, since: SocketMark) -> bool:
        """Wait until the socket at ``socket_path`` may have a new server, or ``timeout``.

        ``since`` is the socket's mark taken before its task last looked for a server. Returns
        True when woken by a change, False after the timeout.
        """
        waiter = _Waiter(socket_path, since)
        self._waiters.add(waiter)
        try:
            if waiter.folder in self._watched:
                # A watch on its folder is armed: a change from now on runs _check; one
                # before now shows in the mark.
                if waiter.changed():
                    return True
            else:
                self._rearm.set()  # the watch is re-armed to cover its folder, then checked
            with anyio.move_on_after(timeout):
                await waiter.woken.wait()
            return waiter.woken.is_set()
        finally:
            self._waiters.discard(waiter)

    async def run(self) -> None:
        """Keep one watch over the folders the current waiters need; never returns."""
        from watchfiles import awatch  # imported here: only the service needs it

        async def watch(folders: frozenset[Path], stop: anyio.Event) -> None:
            try:
                async for _changes in awatch(
                    *folders,
                    stop_event=stop,
                    watch_filter=None,
                    debounce=50,
                    step=50,  # the watch thread wakes this often to look at ``stop``
                    recursive=False,
                ):
                    self._check()
            except (OSError, RuntimeError) as exc:
                # A watched folder vanished or cannot be watched: the waiters whose folder is
                # gone look again; the others keep their timeouts. Re-arm after a pause.
                log.debug("the socket folder watch failed (%s); re-arming", exc)
                self._watched = frozenset()
                self._check()
                await anyio.sleep(self._retry_after_failure)
                self._rearm.set()

        while True:
            self._rearm = anyio.Event()
            folders = frozenset(w.folder for w in self._waiters if w.folder.is_dir())
            if not folders:
                self._check()  # waiters whose folder vanished meanwhile look again
                await self._rearm.wait()
                continue
            stop = anyio.Event()
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch, folders, stop)
                # awatch arms in the first step of the task just started (RustNotify's
                # constructor adds the watch before anything awaits); let that step run.
                await anyio.sleep(0)
                self._watched = folders
                self.armings += 1
                log.debug(
                    "watching %s for %d waiting server task(s)",
                    sorted(map(str, folders)),
                    len(self._waiters),
                )
                self._check()  # what changed while the watch was being (re)armed
                try:
                    await self._rearm.wait()
                finally:
                    self._watched = frozenset()
                    stop.set()  # the watch thread looks at it every ``step`` ms

    def _check(self) -> None:
        for waiter in list(self._waiters):
            if not waiter.woken.is_set() and waiter.changed():
                waiter.woken.set()
