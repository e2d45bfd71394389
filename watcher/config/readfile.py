"""The pipeline's first step: a config file's bytes, read safely, as text and as a document.

Only a regular file of bounded size is read, never blocking. Light on purpose (os and stat only):
every read command checks the config files for the keys it needs, and must not pay for the YAML
parser to do so; :func:`read_document` imports it when called.
"""

from __future__ import annotations

import errno
import os
import stat

from store.errors import ConfigError

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import Final

    from watcher.config.yamlio import Document

MAX_BYTES: Final = 1024 * 1024
"""Bigger files are refused: no real config is a megabyte, and parsing one takes seconds."""


def size_error(filename: str, size: int) -> ConfigError:
    """The error for a file of ``size`` bytes, over :data:`MAX_BYTES`."""
    return ConfigError(
        f"{filename}:1:1: file is {size:,} bytes; a config file may be at most {MAX_BYTES:,}",
        hint="is this the right file? config.yaml files are a few kilobytes",
    )


def config_exists(path: str | os.PathLike[str]) -> bool:
    """Whether anything is at ``path`` (a file, a folder, a FIFO, a dangling or looping link).

    Only a path with nothing at all is "no config"; anything else is read, and what cannot be read
    as a config file is an error rather than silently ignored.
    """
    return os.path.lexists(path)


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _not_regular(name: str, mode: int) -> ConfigError:
    kind = next((what for test, what in _KINDS if test(mode)), "not a regular file")
    return ConfigError(
        f"{name}: is {kind}, not a regular file",
        hint="a config file is a regular YAML file; replace or remove what is at that path",
    )


def _os_error(name: str, exc: OSError) -> ConfigError:
    if exc.errno == errno.ELOOP:
        return ConfigError(
            f"{name}: is a symbolic link loop",
            hint="point the link at the config file, or remove it",
        )
    return ConfigError(f"{name}: cannot read: {exc.strerror}", hint="check permissions")


def read_config_bytes(path: str | os.PathLike[str], *, label: str | None = None) -> bytes:
    """The bytes of the config file at ``path``; anything but a readable regular file of at most
    ``MAX_BYTES`` is a ``ConfigError`` naming the path.

    What is at the path is checked before it is read, and it is opened non-blocking: a FIFO would
    block the reader forever and ``/dev/zero`` would be read until memory runs out.
    """
    name = label or str(path)
    try:
        info = os.stat(path)  # follows links: a symlinked config (dotfile managers) is fine
    except FileNotFoundError:
        if os.path.islink(path):
            raise ConfigError(
                f"{name}: is a link to a missing file ({os.readlink(path)})",
                hint="point the link at the config file, or remove it",
            ) from None
        raise ConfigError(f"{name}: no such file", hint="check the path") from None
    except OSError as exc:
        raise _os_error(name, exc) from None
    if not stat.S_ISREG(info.st_mode):
        raise _not_regular(name, info.st_mode)
    if info.st_size > MAX_BYTES:
        raise size_error(name, info.st_size)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise _os_error(name, exc) from None  # ELOOP: replaced by a loop since the stat
    try:
        # The path may have been replaced between the stat and the open: check what was opened.
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise _not_regular(name, opened.st_mode)
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_BYTES:  # one byte past the cap is enough to refuse the file
            chunk = os.read(fd, MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise _os_error(name, exc) from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def decode_text(raw: bytes, filename: str) -> str:
    """UTF-8 bytes to text, refusing binary, oversize files and invalid UTF-8 with a location."""
    if len(raw) > MAX_BYTES:
        raise size_error(filename, len(raw))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8", "replace")
        line = before.count("\n", 0, exc.start) + 1
        col = exc.start - (before.rfind("\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            f"{filename}:{line}:{col}: not UTF-8 text (byte 0x{raw[exc.start]:02x})",
            hint="config files are UTF-8 YAML; is this a binary file?",
        ) from None
    return text.removeprefix("\ufeff")


def read_document(path: str | os.PathLike[str], *, label: str | None = None) -> Document:
    """Read and parse ``path``; a missing, unreadable, special or malformed file is a
    ``ConfigError``."""
    from watcher.config.yamlio import parse_document

    name = label or str(path)
    return parse_document(decode_text(read_config_bytes(path, label=name), name), name)
