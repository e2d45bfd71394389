"""tmux's client protocol (imsg framing and the identification a control client sends).

Pure: bytes in, bytes out. How the watcher reaches a server, and why it speaks this protocol
itself rather than running ``tmux -C``:

tmux 3.2 ... 3.6 (fixed in 3.7, PRs #4980 #5004) crash when a notification reaches a control
client whose identification is half done: MSG_IDENTIFY_FLAGS marks it a control client at
once, but only MSG_IDENTIFY_DONE creates its control state, and the `tmux` binary sends its
identification in several writes (each descriptor ends one), between which the server runs
other clients' commands (a new session's %sessions-changed then hits the NULL state:
"segfault at 20"). Speaking the protocol ourselves closes that window: both descriptors go
first (harmless before the flags), then FLAGS ... DONE and the command in ONE write, which
the server reads and dispatches in one go (proc.c proc_event_cb). It also leaves no child
process behind: when the watcher dies, the kernel closes its socket and pipes and the server
drops the client.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

from watcher.errors import ProtocolError, TmuxError

PROTOCOL_VERSION = 8  # tmux-protocol.h, the same in every release 3.2 ... 3.7 and master
_HEADER = struct.Struct("=IHHII")  # imsg: type, len (with header), flags, peerid, pid
_IMSGF_HASFD = 1
_MAX_IMSG = 16384  # MAX_IMSGSIZE: larger messages are refused by the server
MSG_VERSION = 12
MSG_IDENTIFY_FLAGS = 100
MSG_IDENTIFY_TERM = 101
MSG_IDENTIFY_TTYNAME = 102
MSG_IDENTIFY_STDIN = 104
MSG_IDENTIFY_ENVIRON = 105
MSG_IDENTIFY_DONE = 106
MSG_IDENTIFY_CLIENTPID = 107
MSG_IDENTIFY_CWD = 108
MSG_IDENTIFY_FEATURES = 109
MSG_IDENTIFY_STDOUT = 110
MSG_IDENTIFY_LONGFLAGS = 111
MSG_COMMAND = 200
MSG_DETACH = 201
MSG_DETACHKILL = 202
MSG_EXIT = 203
MSG_EXITED = 204
MSG_EXITING = 205
MSG_LOCK = 206
MSG_READY = 207
MSG_RESIZE = 208
MSG_SHUTDOWN = 210
MSG_UNLOCK = 215
MSG_READ_OPEN = 300
MSG_READ_DONE = 302
MSG_WRITE_OPEN = 303
MSG_WRITE_READY = 305
CLIENT_CONTROL = 0x2000  # tmux.h (3.2 ... 3.7): `tmux -C`
CLIENT_UTF8 = 0x10000  # `tmux -u`
EBADF = 9  # errno, answered to the server's file requests


def imsg(kind: int, payload: bytes = b"", *, has_fd: bool = False, pid: int = 0) -> bytes:
    """One tmux protocol message (imsg header in native byte order, then the payload)."""
    flags = _IMSGF_HASFD if has_fd else 0
    return _HEADER.pack(kind, _HEADER.size + len(payload), flags, PROTOCOL_VERSION, pid) + payload


def identify_and_command(
    argv: Sequence[str], *, pid: int, cwd: str, term: str, environ: Mapping[str, str]
) -> bytes:
    """Everything after the two descriptors, as one write: FLAGS ... DONE, then the command.

    The same messages as tmux's client.c client_send_identify (minus the descriptors), for a
    control client (``-C``) with UTF-8 (``-u``), no tty and no terminal features.
    """

    def text(value: str) -> bytes:
        return value.encode("utf-8", "surrogateescape") + b"\0"

    flags = CLIENT_CONTROL | CLIENT_UTF8
    parts = [
        imsg(MSG_IDENTIFY_FLAGS, struct.pack("=i", flags), pid=pid),
        imsg(MSG_IDENTIFY_LONGFLAGS, struct.pack("=Q", flags), pid=pid),
        imsg(MSG_IDENTIFY_TERM, text(term), pid=pid),
        imsg(MSG_IDENTIFY_FEATURES, struct.pack("=i", 0), pid=pid),
        imsg(MSG_IDENTIFY_TTYNAME, b"\0", pid=pid),
        imsg(MSG_IDENTIFY_CWD, text(cwd), pid=pid),
        imsg(MSG_IDENTIFY_CLIENTPID, struct.pack("=i", pid), pid=pid),
    ]
    for key, value in environ.items():
        entry = text(f"{key}={value}")
        if len(entry) + _HEADER.size <= _MAX_IMSG:
            parts.append(imsg(MSG_IDENTIFY_ENVIRON, entry, pid=pid))
    parts.append(imsg(MSG_IDENTIFY_DONE, pid=pid))
    packed = b"".join(text(a) for a in argv)
    command = imsg(MSG_COMMAND, struct.pack("=i", len(argv)) + packed, pid=pid)
    if len(command) > _MAX_IMSG:
        raise TmuxError("tmux command too long", hint="this is a bug in ccmgr-watch")
    parts.append(command)
    return b"".join(parts)


def split_messages(buffer: bytearray) -> list[tuple[int, bytes]]:
    """Take the complete messages (type, payload) off the front of ``buffer``."""
    messages = []
    while len(buffer) >= _HEADER.size:
        kind, length, _flags, _peer, _pid = _HEADER.unpack_from(buffer)
        if length < _HEADER.size:
            raise ProtocolError(
                f"bad tmux message length {length}", hint="check `tmux -V` (3.2+ is supported)"
            )
        if len(buffer) < length:
            break
        messages.append((kind, bytes(buffer[_HEADER.size : length])))
        del buffer[:length]
    return messages
