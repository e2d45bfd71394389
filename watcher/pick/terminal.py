"""The picker's terminal: /dev/tty in raw mode, the alternate screen, frames, keys and resizes.

Plain termios and ANSI escapes (the standard library only): the picker's first frame is due
within 150 ms of start, and a terminal library costs more to import than the whole picker
(docs/picker.md has the numbers). The picker talks to ``/dev/tty``, not to stdin/stdout, so
``ccmgr-watch pick --print`` can hand its answer to a pipe.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import termios

from store.errors import UsageError
from watcher.pick.keys import ESC, decode

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from types import FrameType, TracebackType
    from typing import Any

# A lone ESC is the Esc key when no byte follows within this long (tmux itself waits
# escape-time, 500 ms by default, before it passes a lone ESC on, so what arrives is whole).
ESC_WAIT = 0.03
_ENTER = b"\x1b[?1049h\x1b[?7l"  # alternate screen, no autowrap
_LEAVE = b"\x1b[?7h\x1b[?25h\x1b[?1049l"
_FRAME_START = b"\x1b[?25l\x1b[H"  # hide the cursor while drawing, go home
FRAME_END = b"\x1b[?25h"
"""The last bytes of every frame (the cursor shown again): a frame is whole when they arrive."""


class Terminal:
    """The controlling terminal in raw mode; a context manager that always restores it."""

    def __init__(self) -> None:
        try:
            self.fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
        except OSError as exc:
            raise UsageError(
                f"ccmgr-watch pick needs a terminal ({exc.strerror})",
                hint="run it in a terminal or a tmux popup; scripts use "
                "`ccmgr-watch query --json` instead",
            ) from None
        self._saved: list[Any] | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)
        self._old_winch: object = None
        self._pending = b""
        self.resized = False

    @property
    def wake_fd(self) -> int:
        """Write a byte here (from any thread) to wake :meth:`read_keys`."""
        return self._wake_w

    def __enter__(self) -> Terminal:
        self._saved = termios.tcgetattr(self.fd)
        mode = termios.tcgetattr(self.fd)
        # Raw input (every key as it comes, Ctrl-C as a byte, no echo, no flow control), and
        # output left as it is: the frames position every line themselves.
        mode[0] &= ~(termios.BRKINT | termios.ICRNL | termios.INPCK | termios.ISTRIP | termios.IXON)
        mode[2] = (mode[2] & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
        mode[3] &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN | termios.ISIG)
        mode[6][termios.VMIN] = 1
        mode[6][termios.VTIME] = 0
        termios.tcsetattr(self.fd, termios.TCSAFLUSH, mode)
        self._old_winch = signal.signal(signal.SIGWINCH, self._on_resize)
        self._write(_ENTER)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.restore()

    def restore(self) -> None:
        """Leave the alternate screen and give the terminal its mode back (idempotent)."""
        if self._saved is None:
            return
        try:
            self._write(_LEAVE)
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
        except OSError:  # the terminal went away (a closed popup): nothing to restore
            pass
        self._saved = None
        signal.signal(signal.SIGWINCH, self._old_winch)  # type: ignore[arg-type]

    def close(self) -> None:
        """Close the tty and the wake-up pipe."""
        self.restore()
        for fd in (self.fd, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _on_resize(self, signum: int, frame: FrameType | None) -> None:
        self.resized = True
        # A full pipe means a wake-up is already pending.
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"w")

    def size(self) -> tuple[int, int]:
        """Columns and rows (80x24 when the terminal will not say)."""
        try:
            columns, rows = os.get_terminal_size(self.fd)
        except OSError:
            return 80, 24
        return (columns or 80), (rows or 24)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]

    def draw(self, lines: list[str], cursor: int) -> None:
        """Write one whole frame: every line (cleared to its end), the rest of the screen
        cleared, the cursor on the query line at column ``cursor``."""
        body = "\x1b[K\r\n".join(lines)
        frame = b"".join(
            (
                _FRAME_START,
                body.encode("utf-8", "replace"),
                b"\x1b[K\x1b[J",
                f"\x1b[1;{cursor + 1}H".encode(),
                FRAME_END,
            )
        )
        self._write(frame)

    def read_keys(self, timeout: float | None = None) -> tuple[list[str], bool]:
        """Wait for input or a wake-up (a result, a resize); returns the keys typed (maybe
        none) and whether a wake-up came."""
        ready, _, _ = select.select([self.fd, self._wake_r], [], [], timeout)
        woken = self._wake_r in ready
        if woken:
            with contextlib.suppress(BlockingIOError):
                os.read(self._wake_r, 4096)
        keys: list[str] = []
        if self.fd in ready:
            try:
                data = os.read(self.fd, 4096)
            except OSError:  # EIO: the terminal is gone (the popup closed)
                data = b""
            if not data:
                return ["<hangup>"], woken
            keys, self._pending = decode(self._pending + data)
            # A lone ESC: Esc, unless the rest of a sequence follows at once.
            while self._pending == ESC:
                more, _, _ = select.select([self.fd], [], [], ESC_WAIT)
                if not more:
                    self._pending = b""
                    keys.append("<esc>")
                    break
                extra, self._pending = decode(self._pending + os.read(self.fd, 4096))
                keys.extend(extra)
        return keys, woken
