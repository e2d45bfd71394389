"""Enrichment: project, worktree and branch from real git repositories, else from the name."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import anyio
import pytest

from store.repositories import EnrichmentRow
from watcher.capture.enrich import (
    EnrichRequest,
    GitCache,
    enrich,
    enrich_now,
    git_info,
    parse_ccmgr_name,
    run_enricher,
)
from watcher.capture.writer import WriterItem

pytestmark = pytest.mark.anyio

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_SYSTEM": os.devnull,
}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, env=os.environ | GIT_ENV
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    main = tmp_path / "my project"
    main.mkdir()
    git(main, "init", "-q", "-b", "main")
    (main / "sub").mkdir()
    (main / "sub" / "f").write_text("x")
    git(main, "add", ".")
    git(main, "commit", "-q", "-m", "init")
    return main


def request(directory: Path | str | None, name: str = "plain") -> EnrichRequest:
    return EnrichRequest(
        session_id="s-1", name=name, directory=str(directory) if directory else None
    )


async def test_main_worktree(repo: Path) -> None:
    found = await enrich(request(repo))
    assert found == EnrichmentRow(
        id="s-1", project="my project", worktree="my project", branch="main", source="git"
    )


async def test_subdirectory_of_the_main_worktree(repo: Path) -> None:
    found = await enrich(request(repo / "sub"))
    assert found is not None
    assert (found.project, found.worktree, found.branch) == ("my project", "my project", "main")


async def test_linked_worktree_names_the_repository_and_its_own_folder(
    repo: Path, tmp_path: Path
) -> None:
    linked = tmp_path / "wts" / "feature-x"
    git(repo, "worktree", "add", "-q", "-b", "feature/auth", str(linked))
    found = await enrich(request(linked / "sub", name="ccmgr-a-b-c"))
    assert found == EnrichmentRow(
        id="s-1",
        project="my project",
        worktree="feature-x",
        branch="feature/auth",
        source="git",
    )


async def test_detached_head_has_no_branch(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    found = await git_info(str(repo))
    assert found is not None and found.branch is None and found.project == "my project"


async def test_unborn_branch(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q", "-b", "trunk")
    found = await git_info(str(fresh))
    assert found is not None and (found.project, found.branch) == ("fresh", "trunk")


async def test_not_a_repository_falls_back_to_the_ccmgr_name(tmp_path: Path) -> None:
    found = await enrich(request(tmp_path, name="ccmgr-myproject-main-feature_auth"))
    assert found == EnrichmentRow(
        id="s-1", project="myproject", worktree="main", branch="feature_auth", source="name"
    )
    assert await enrich(request(tmp_path, name="plain")) is None
    assert await enrich(request(None, name="plain")) is None
    assert await enrich(request(tmp_path / "missing", name="plain")) is None


async def test_a_hung_git_gives_up_after_the_timeout(tmp_path: Path, monkeypatch) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "git"
    fake.write_text("#!/bin/sh\nexec sleep 60\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    with anyio.fail_after(10):  # a guard against hanging the suite, not a speed assertion
        found = await enrich(request(tmp_path, name="ccmgr-p-w-b"), timeout=0.2)
    assert found is not None and found.source == "name"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ccmgr-myproject-main-feature", ("myproject", "main", "feature")),
        (
            "ccmgr-my_project_v1-main_dev-feature_auth",
            ("my_project_v1", "main_dev", "feature_auth"),
        ),
        ("ccmgr-unnamed-unnamed-unnamed", ("unnamed", "unnamed", "unnamed")),
        ("ccmgr-feature-new-feature", ("feature", "new", "feature")),
        (
            "ccmgr-verylongproje~-verylongworkt~-verylongbranc~",  # 50 characters: the limit
            ("verylongproje~", "verylongworkt~", "verylongbranc~"),
        ),
        ("ccmgr-verylongproje~-verylongworkt~-verylongbranch~", None),  # 51 characters
        ("ccmgr-a-b", None),
        ("ccmgr--b-c", None),
        ("work", None),
        ("ccmgrx-a-b-c", None),
    ],
)
def test_parse_ccmgr_name(name: str, expected: tuple[str, str, str] | None) -> None:
    assert parse_ccmgr_name(name) == expected


async def test_run_enricher_sends_results_to_the_writer_stream(repo: Path, tmp_path: Path) -> None:
    req_send, req_receive = anyio.create_memory_object_stream[EnrichRequest](10)
    res_send, res_receive = anyio.create_memory_object_stream[WriterItem](10)
    async with anyio.create_task_group() as tg:
        tg.start_soon(run_enricher, req_receive, res_send)
        async with req_send:
            await req_send.send(EnrichRequest(session_id="a", name="x", directory=str(repo)))
            await req_send.send(EnrichRequest(session_id="b", name="x", directory=str(tmp_path)))
            await req_send.send(EnrichRequest(session_id="c", name="ccmgr-p-w-b", directory=None))
        results = [item async for item in res_receive]
    got = sorted((r.id, r.source) for r in results if isinstance(r, EnrichmentRow))
    assert got == [("a", "git"), ("c", "name")]


async def test_git_cache_asks_git_once_per_directory(
    repo: Path, tmp_path: Path, monkeypatch
) -> None:
    calls = tmp_path / "calls"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    real_git = subprocess.run(["which", "git"], capture_output=True, text=True).stdout.strip()
    counting = bindir / "git"
    counting.write_text(f'#!/bin/sh\necho x >> "{calls}"\nexec {real_git} "$@"\n')
    counting.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    cache = GitCache(ttl=60)
    async with anyio.create_task_group() as tg:
        for _ in range(5):  # concurrent lookups share one run
            tg.start_soon(cache.lookup, str(repo))
    again = await cache.lookup(str(repo))
    assert again is not None and again.project == "my project"
    assert len(calls.read_text().splitlines()) == 2  # rev-parse + branch, once
    await GitCache(ttl=0).lookup(str(repo))
    assert len(calls.read_text().splitlines()) == 4


async def test_enrich_now_answers_without_git_only_when_it_can(repo: Path) -> None:
    cache = GitCache(ttl=60)
    request = EnrichRequest(session_id="a", name="ccmgr-p-w-b", directory=str(repo))
    assert enrich_now(request, cache) == (False, None)  # git not asked yet
    slow = await enrich(request, cache=cache)
    assert slow is not None and slow.source == "git"
    assert enrich_now(request, cache) == (True, slow)  # the same answer, from the cache
    no_dir = EnrichRequest(session_id="b", name="ccmgr-p-w-b", directory=None)
    assert enrich_now(no_dir, cache) == (True, await enrich(no_dir, cache=cache))
    plain = EnrichRequest(session_id="c", name="plain", directory=None)
    assert enrich_now(plain, cache) == (True, None)
    assert enrich_now(request, GitCache(ttl=0)) == (False, None)
