"""Project, worktree and branch of a session: from git for its directory, else from its name.

git runs off the event loop (``anyio.run_process``, argv lists only) under a timeout, on a small
pool of concurrent lookups fed by a bounded queue, so a slow or hung git never delays capture: the
session's row is committed first and the writer stores the result when it arrives. The fallback
is ccmgr-ultra's session naming, ``ccmgr-{project}-{worktree}-{branch}``.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from pathlib import PurePosixPath

import anyio
import msgspec
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from store.repositories import EnrichmentRow  # what the store writes: one declaration


class EnrichRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A committed session whose project, worktree and branch should be looked up."""

    session_id: str
    name: str
    directory: str | None


log = logging.getLogger("ccmgr_watch.enrich")

GIT_TIMEOUT = 2.0
CONCURRENCY = 4
CACHE_TTL = 10.0  # seconds a directory's git answer is reused (a branch switch shows after)
_CACHE_SIZE = 4096
_CCMGR_NAME = re.compile(r"^ccmgr-([^-]+)-([^-]+)-(.+)$")
_CCMGR_MAX_LEN = 50
# git must not prompt, take optional locks in the user's repository, or translate its output.
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}


def parse_ccmgr_name(name: str) -> tuple[str, str, str] | None:
    """``(project, worktree, branch)`` from a ccmgr-ultra session name, or None if it is not one."""
    if len(name) > _CCMGR_MAX_LEN:
        return None
    match = _CCMGR_NAME.match(name)
    if match is None:
        return None
    return match[1], match[2], match[3]


def repository_name(common_dir: str, toplevel: str) -> str:
    """The repository's name: the folder of the main worktree (``.../NAME/.git``) or bare repo."""
    common = PurePosixPath(common_dir)
    if common.name == ".git":
        return common.parent.name
    # A bare repository (``NAME.git``) or a separated git dir: its own folder name is all we have.
    if common.name.endswith(".git") and len(common.name) > len(".git"):
        return common.name[: -len(".git")]
    return PurePosixPath(toplevel).name


async def _git(directory: str, *args: str) -> str | None:
    env = os.environ | _GIT_ENV
    try:
        result = await anyio.run_process(
            ["git", "-C", directory, *args],
            check=False,
            stdin=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    except OSError:  # git missing, directory unreadable
        return None
    if result.returncode != 0:
        return None
    return result.stdout.decode("utf-8", "surrogateescape").rstrip("\n")


async def git_info(directory: str, *, timeout: float = GIT_TIMEOUT) -> EnrichmentRow | None:
    """Repository name, worktree folder and branch for ``directory``; None if not in git.

    ``session_id`` of the result is empty; the caller fills it in.
    """
    if not directory or not os.path.isabs(directory) or not os.path.isdir(directory):
        return None
    with anyio.move_on_after(timeout):
        paths = await _git(
            directory, "rev-parse", "--path-format=absolute", "--git-common-dir", "--show-toplevel"
        )
        if paths is None:
            return None
        lines = paths.split("\n")
        if len(lines) != 2:  # a bare repository has no toplevel: not a worktree
            return None
        common_dir, toplevel = lines
        branch = await _git(directory, "branch", "--show-current")
        return EnrichmentRow(
            id="",
            project=repository_name(common_dir, toplevel),
            worktree=PurePosixPath(toplevel).name,
            branch=branch or None,  # empty when HEAD is detached
            source="git",
        )
    log.warning("git did not answer within %.1fs for %s", timeout, directory)
    return None


class GitCache:
    """Recent :func:`git_info` answers by directory, so a burst of sessions in one worktree
    costs one git run, not one per session (spawning git is what enrichment spends its CPU on).

    Answers (including "not in git") are kept for ``ttl`` seconds; concurrent lookups of the
    same directory share one git run.
    """

    def __init__(self, *, ttl: float = CACHE_TTL, timeout: float = GIT_TIMEOUT) -> None:
        self.ttl = ttl
        self.timeout = timeout
        self._answers: dict[str, tuple[float, EnrichmentRow | None]] = {}
        self._pending: dict[str, anyio.Event] = {}

    def peek(self, directory: str) -> tuple[bool, EnrichmentRow | None]:
        """``(True, answer)`` if a fresh answer for ``directory`` is cached, else ``(False, None)``.

        Never runs git, so the writer can call it while building a batch.
        """
        cached = self._answers.get(directory)
        if cached is not None and anyio.current_time() - cached[0] < self.ttl:
            return True, cached[1]
        return False, None

    async def lookup(self, directory: str) -> EnrichmentRow | None:
        """What git says about ``directory``, at most ``ttl`` seconds old."""
        while True:
            cached = self._answers.get(directory)
            if cached is not None and anyio.current_time() - cached[0] < self.ttl:
                return cached[1]
            pending = self._pending.get(directory)
            if pending is None:
                break
            await pending.wait()  # someone else is asking git right now
        done = self._pending[directory] = anyio.Event()
        try:
            found = await git_info(directory, timeout=self.timeout)
            if len(self._answers) >= _CACHE_SIZE:
                self._answers.clear()  # crude, and rare: thousands of distinct directories
            self._answers[directory] = (anyio.current_time(), found)
            return found
        finally:
            del self._pending[directory]
            done.set()


async def enrich(
    request: EnrichRequest, *, timeout: float = GIT_TIMEOUT, cache: GitCache | None = None
) -> EnrichmentRow | None:
    """What to store for one session: git for its directory first, else its ccmgr-style name."""
    found = None
    if request.directory:
        if cache is not None:
            found = await cache.lookup(request.directory)
        else:
            found = await git_info(request.directory, timeout=timeout)
    return _result(request, found)


def enrich_now(request: EnrichRequest, cache: GitCache) -> tuple[bool, EnrichmentRow | None]:
    """``(True, what enrich() would return)`` when that is known without running git (no
    directory, or git's answer for it is cached); ``(False, None)`` when git must be asked.

    Lets the writer store a session's enrichment in the same transaction as its row: the
    common case (a burst of sessions in one worktree) then costs no extra transaction.
    """
    found = None
    if request.directory:
        known, found = cache.peek(request.directory)
        if not known:
            return False, None
    return True, _result(request, found)


def _result(request: EnrichRequest, found: EnrichmentRow | None) -> EnrichmentRow | None:
    """git's answer for the session (``found``), else the guess from its name, else None."""
    if found is not None:
        return EnrichmentRow(
            id=request.session_id,
            project=found.project,
            worktree=found.worktree,
            branch=found.branch,
            source="git",
        )
    parts = parse_ccmgr_name(request.name)
    if parts is None:
        return None
    project, worktree, branch = parts
    return EnrichmentRow(
        id=request.session_id,
        project=project,
        worktree=worktree,
        branch=branch,
        source="name",
    )


async def run_enricher(
    requests: MemoryObjectReceiveStream[EnrichRequest],
    results: MemoryObjectSendStream[EnrichmentRow],
    *,
    timeout: float = GIT_TIMEOUT,
    concurrency: int = CONCURRENCY,
    cache_ttl: float = CACHE_TTL,
    cache: GitCache | None = None,
) -> None:
    """Look up every request (at most ``concurrency`` at once) and send results to the writer.

    ``cache`` (default: a new one with ``cache_ttl`` and ``timeout``) can be shared with the
    writer's :func:`enrich_now`.
    """
    limiter = anyio.CapacityLimiter(concurrency)
    if cache is None:
        cache = GitCache(ttl=cache_ttl, timeout=timeout)

    async def one(request: EnrichRequest, token: object) -> None:
        try:
            found = await enrich(request, timeout=timeout, cache=cache)
            if found is not None:
                await results.send(found)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass  # shutting down: the writer is gone
        finally:
            limiter.release_on_behalf_of(token)

    async with requests, results, anyio.create_task_group() as tg:
        async for request in requests:
            token = object()  # two requests can be equal; each needs its own borrower
            await limiter.acquire_on_behalf_of(token)
            tg.start_soon(one, request, token)
