"""Terminal input bytes to keys (pure): what the picker reads from its tty in raw mode.

A key is a string: one printable character for text, or a name in angle brackets (``<up>``,
``<enter>``, ``<ctrl-c>``...). :func:`decode` returns the keys in a chunk and the bytes of an
incomplete sequence at its end (an escape sequence or a UTF-8 character split between reads),
which the caller prepends to the next chunk. A lone ESC is the Esc key only when nothing follows
it soon: the caller decides that (:data:`ESC`) after a short wait, as every terminal program must.
"""

from __future__ import annotations

ESC = b"\x1b"

_CONTROL = {
    0x01: "<home>",  # Ctrl-A
    0x03: "<ctrl-c>",
    0x04: "<ctrl-d>",
    0x05: "<end>",  # Ctrl-E
    0x08: "<backspace>",
    0x09: "<tab>",
    0x0A: "<enter>",
    0x0D: "<enter>",
    0x0E: "<down>",  # Ctrl-N
    0x10: "<up>",  # Ctrl-P
    0x15: "<ctrl-u>",
    0x17: "<ctrl-w>",
    0x7F: "<backspace>",
}

# CSI and SS3 sequences (xterm, tmux, VT100 application mode) the picker understands.
_SEQUENCES = {
    b"[A": "<up>",
    b"[B": "<down>",
    b"[C": "<right>",
    b"[D": "<left>",
    b"OA": "<up>",
    b"OB": "<down>",
    b"OC": "<right>",
    b"OD": "<left>",
    b"[H": "<home>",
    b"[F": "<end>",
    b"OH": "<home>",
    b"OF": "<end>",
    b"[1~": "<home>",
    b"[4~": "<end>",
    b"[7~": "<home>",
    b"[8~": "<end>",
    b"[3~": "<delete>",
    b"[5~": "<pgup>",
    b"[6~": "<pgdn>",
}


def _sequence_end(data: bytes, start: int) -> int | None:
    """Where the escape sequence starting at ``data[start]`` (an ESC) ends (exclusive), or None
    when ``data`` stops before its end."""
    if start + 1 >= len(data):
        return None
    kind = data[start + 1]
    if kind == ord("["):
        # CSI: parameter and intermediate bytes, then one final byte in 0x40-0x7E.
        for i in range(start + 2, len(data)):
            if 0x40 <= data[i] <= 0x7E:
                return i + 1
        return None
    if kind == ord("O"):
        return start + 3 if start + 2 < len(data) else None
    return start + 2  # Alt+key: ESC and one byte


def _utf8_length(lead: int) -> int:
    """Bytes of the UTF-8 character ``lead`` starts (1 for a byte that starts none)."""
    if 0xF0 <= lead <= 0xF4:
        return 4
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xC2 <= lead <= 0xDF:
        return 2
    return 1


def decode(data: bytes) -> tuple[list[str], bytes]:
    """The keys in ``data`` and the incomplete tail to keep for the next read.

    A lone ESC at the end is kept as the tail (it may start a sequence); the caller turns it into
    ``<esc>`` when no more bytes come. Unknown escape sequences and control bytes are dropped.
    """
    keys: list[str] = []
    i = 0
    while i < len(data):
        byte = data[i]
        if byte == 0x1B:
            end = _sequence_end(data, i)
            if end is None:
                return keys, data[i:]
            if data[i + 1] == 0x1B:  # ESC ESC: the first was the Esc key
                keys.append("<esc>")
                i += 1
                continue
            name = _SEQUENCES.get(data[i + 1 : end])
            if name is not None:
                keys.append(name)
            i = end
            continue
        if byte < 0x20 or byte == 0x7F:
            name = _CONTROL.get(byte)
            if name is not None:
                keys.append(name)
            i += 1
            continue
        length = _utf8_length(byte)
        tail = data[i + 1 : i + length]
        if any(not 0x80 <= b <= 0xBF for b in tail):
            length = 1  # not a character: one replacement character, and go on
        elif i + length > len(data):
            return keys, data[i:]
        char = data[i : i + length].decode("utf-8", "replace")
        keys.extend(c for c in char if c.isprintable())
        i += length
    return keys, b""
