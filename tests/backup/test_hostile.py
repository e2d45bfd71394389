"""Hostile and damaged archives: refused with exit 4, the live database untouched."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.backup.conftest import dump

NAME = "ccmgr-watch-20261120-000000-full.tar.gz"


def manifest(members: list[dict[str, Any]], **changes: Any) -> bytes:
    body: dict[str, Any] = {
        "format": "ccmgr-watch-backup",
        "format_version": 1,
        "id": "20261120-000000",
        "kind": "full",
        "parent": None,
        "created_at": "2026-11-20T00:00:00.000000Z",
        "program_version": "0.1.0",
        "schema_version": 2,
        "watermarks": {"event_id": 0, "session_change": None},
        "compression": "gzip",
        "members": members,
    }
    body.update(changes)
    return json.dumps(body).encode()


def entry(name: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def tar_bytes(items: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in items:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def reg(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def special(name: str, kind: bytes, link: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info, None


@pytest.fixture
def real_db(db: Path) -> bytes:
    """A genuine database file's bytes (a copy of the test database)."""
    return db.read_bytes()


@pytest.fixture
def plant(folder: Path) -> Callable[[bytes], Path]:
    def put(data: bytes, name: str = NAME) -> Path:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / name
        path.write_bytes(data)
        return path

    return put


def refused(cli, db: Path, *, message: str, backup_id: str = "20261120") -> None:
    """Both verify and restore refuse with exit 4 naming ``message``; nothing changes."""
    before = dump(db), db.read_bytes()
    # The restore takes the watcher's lock (creating its file), and leaves nothing else.
    listing = sorted({p.name for p in db.parent.iterdir()} | {"data.db.watcher.lock"})
    for command in (["verify"], ["restore"], ["restore", "--only", "events"]):
        code, _, err = cli("backup", *command, backup_id, "--db", str(db))
        assert code == 4, err
        assert message in err, err
        assert "Traceback" not in err
    assert (dump(db), db.read_bytes()) == before
    assert sorted(p.name for p in db.parent.iterdir()) == listing


def gz(data: bytes) -> bytes:
    return gzip.compress(data)


CASES: dict[str, Callable[[bytes], bytes]] = {}


def case(name: str) -> Callable[[Callable[[bytes], bytes]], Callable[[bytes], bytes]]:
    def add(build: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
        CASES[name] = build
        return build

    return add


@case("unsafe member path")
def _dotdot(data: bytes) -> bytes:
    evil = b"owned"
    return gz(
        tar_bytes(
            [
                reg("manifest.json", manifest([entry("data.db", data)])),
                reg("../../evil", evil),
                reg("data.db", data),
            ]
        )
    )


@case("unsafe member path ")
def _absolute(data: bytes) -> bytes:
    return gz(
        tar_bytes(
            [
                reg("manifest.json", manifest([entry("data.db", data)])),
                reg("/tmp/ccmgr-watch-evil", b"x"),
            ]
        )
    )


@case("is a link")
def _symlink(data: bytes) -> bytes:
    return gz(
        tar_bytes(
            [
                reg("manifest.json", manifest([entry("data.db", data)])),
                special("data.db", tarfile.SYMTYPE, "/etc/passwd"),
            ]
        )
    )


@case("is a link ")
def _hardlink(data: bytes) -> bytes:
    return gz(
        tar_bytes(
            [
                reg("manifest.json", manifest([entry("data.db", data)])),
                special("data.db", tarfile.LNKTYPE, "manifest.json"),
            ]
        )
    )


@case("is a device")
def _device(data: bytes) -> bytes:
    return gz(
        tar_bytes(
            [
                reg("manifest.json", manifest([entry("data.db", data)])),
                special("data.db", tarfile.CHRTYPE),
            ]
        )
    )


@case("does not match its SHA-256")
def _lying_hash(data: bytes) -> bytes:
    lie = entry("data.db", data) | {"sha256": "0" * 64}
    return gz(tar_bytes([reg("manifest.json", manifest([lie])), reg("data.db", data)]))


@case("the manifest says")
def _lying_size(data: bytes) -> bytes:
    lie = entry("data.db", data) | {"size": 100}
    return gz(tar_bytes([reg("manifest.json", manifest([lie])), reg("data.db", data)]))


@case("newer ccmgr-watch")
def _newer_format(data: bytes) -> bytes:
    body = manifest([entry("data.db", data)], format_version=2, future_field=True)
    return gz(tar_bytes([reg("manifest.json", body), reg("data.db", data)]))


@case("first member is not manifest.json")
def _manifest_not_first(data: bytes) -> bytes:
    return gz(
        tar_bytes([reg("data.db", data), reg("manifest.json", manifest([entry("data.db", data)]))])
    )


@case("is not in its manifest")
def _extra_member(data: bytes) -> bytes:
    return gz(
        tar_bytes(
            [
                reg("manifest.json", manifest([entry("data.db", data)])),
                reg("data.db", data),
                reg("events.jsonl", b"[]\n"),
            ]
        )
    )


@case("unexpected member")
def _manifest_names_a_path(data: bytes) -> bytes:
    return gz(tar_bytes([reg("manifest.json", manifest([entry("../x", b"")]))]))


@case("decompression bomb")
def _bomb(data: bytes) -> bytes:
    # A small honest archive followed by 300 MB of zeros inside the same gzip stream.
    head = tar_bytes(
        [reg("manifest.json", manifest([entry("data.db", data)])), reg("data.db", data)]
    )
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [comp.compress(head)]
    zeros = bytes(1 << 20)
    out += [comp.compress(zeros) for _ in range(300)]
    out.append(comp.flush())
    return b"".join(out)


@case("more than the")
def _claims_a_terabyte(data: bytes) -> bytes:
    huge = entry("data.db", data) | {"size": 1 << 50}
    return gz(tar_bytes([reg("manifest.json", manifest([huge])), reg("data.db", data)]))


@case("not a ccmgr-watch manifest")
def _foreign_manifest(data: bytes) -> bytes:
    return gz(tar_bytes([reg("manifest.json", b'{"hello": "world"}')]))


@case("not a tar archive")
def _not_tar(data: bytes) -> bytes:
    return gz(b"this is not a tar file at all" * 40)


@case("gzip data is corrupt")
def _corrupt_gzip(data: bytes) -> bytes:
    # Corrupt in the middle of the deflate stream, where zlib must notice whatever the data:
    # a full flush there starts the next block on a byte of its own, whose block type is set
    # to the reserved 3 ("invalid block type"). Flipping bytes instead decoded without an
    # error for some databases (a wrong data.db, caught by its SHA-256 instead).
    archive = tar_bytes(
        [reg("manifest.json", manifest([entry("data.db", data)])), reg("data.db", data)]
    )
    middle = len(archive) // 2
    deflate = zlib.compressobj(6, zlib.DEFLATED, 31)
    head = deflate.compress(archive[:middle]) + deflate.flush(zlib.Z_FULL_FLUSH)
    tail = deflate.compress(archive[middle:]) + deflate.flush()
    return head + bytes([tail[0] | 0b110]) + tail[1:]


@pytest.mark.parametrize("message", list(CASES))
def test_hostile_archive_is_refused(cli, db, real_db, plant, message) -> None:
    plant(CASES[message](real_db))
    refused(cli, db, message=message.strip())
    assert not Path("/tmp/ccmgr-watch-evil").exists()


@pytest.mark.parametrize("cut", [0.5, 0.999])
@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_truncated_archive(cli, db, folder, write_config, compression, cut) -> None:
    write_config(f"backup:\n    compression: {compression}\n")
    _, out, _ = cli("backup", "create", "--db", str(db), "--json")
    path = Path(json.loads(out)["path"])
    data = path.read_bytes()
    # Near the end: the last 5 bytes of a compressed stream, the last data byte of a plain tar
    # (cutting its zero padding loses nothing, and every member is checked by its hash anyway).
    end = len(data.rstrip(b"\0")) - 1 if compression == "none" else len(data) - 5
    keep = int(len(data) * cut) if cut < 0.99 else end
    (folder / "index.json").unlink()  # the index would otherwise vouch for the old size
    path.write_bytes(data[:keep])
    refused(cli, db, message="not a valid backup", backup_id=json.loads(out)["id"])


def test_wrong_passphrase_is_refused(cli, db, folder, write_config, monkeypatch) -> None:
    write_config("backup:\n    encryption: age\n")
    monkeypatch.setenv("CCMGR_WATCH_BACKUP_PASSPHRASE", "right")
    _, out, _ = cli("backup", "create", "--db", str(db), "--json")
    path = Path(json.loads(out)["path"])
    path.rename(folder / path.name.replace(path.name[12:27], "20261120-000000"))
    (folder / "index.json").unlink()
    monkeypatch.setenv("CCMGR_WATCH_BACKUP_PASSPHRASE", "wrong")
    refused(cli, db, message="wrong passphrase")


def test_an_unreadable_archive_is_still_listed(cli, db, plant) -> None:
    plant(b"garbage")
    code, out, _ = cli("backup", "list", "--db", str(db), "--json")
    (item,) = json.loads(out)
    assert code == 0 and item["readable"] is False and item["id"] == "20261120-000000"


def test_prune_refuses_while_a_backup_cannot_be_read(cli, db, plant) -> None:
    plant(b"garbage")
    code, _, err = cli("backup", "prune", "--db", str(db))
    assert code == 1 and "nothing is pruned" in err
    code, out, _ = cli("backup", "list", "--db", str(db), "--json")
    assert len(json.loads(out)) == 1
