"""Terminal bytes to keys: every key the picker knows, split reads, and junk."""

from __future__ import annotations

import pytest

from watcher.pick.keys import decode


@pytest.mark.parametrize(
    ("data", "keys", "rest"),
    [
        (b"auth", ["a", "u", "t", "h"], b""),
        (b"\x1b[A\x1b[B", ["<up>", "<down>"], b""),
        (b"\x1bOA\x1bOB", ["<up>", "<down>"], b""),
        (b"\x0e\x10", ["<down>", "<up>"], b""),  # Ctrl-N, Ctrl-P
        (b"\r", ["<enter>"], b""),
        (b"\n", ["<enter>"], b""),
        (b"\x03", ["<ctrl-c>"], b""),
        (b"\x7f\x08", ["<backspace>", "<backspace>"], b""),
        (b"\x15\x17", ["<ctrl-u>", "<ctrl-w>"], b""),
        (b"\x1b[5~\x1b[6~", ["<pgup>", "<pgdn>"], b""),
        (b"\x1b", [], b"\x1b"),  # maybe the start of a sequence: the caller waits
        (b"a\x1b[", ["a"], b"\x1b["),
        (b"\x1b\x1b[A", ["<esc>", "<up>"], b""),
        (b"\x1b[1;5A", [], b""),  # an unknown sequence is dropped whole
        (b"\x1bx", [], b""),  # Alt+x: nothing
        ("é✓".encode(), ["é", "✓"], b""),
        ("é".encode()[:1], [], "é".encode()[:1]),  # a character split between reads
        (b"\x00\x02\x1f", [], b""),  # other control bytes: nothing
        (b"\xff", ["\ufffd"], b""),  # invalid UTF-8 becomes the replacement character
    ],
)
def test_decode(data: bytes, keys: list[str], rest: bytes) -> None:
    assert decode(data) == (keys, rest)


def test_a_sequence_split_anywhere_decodes_the_same() -> None:
    data = "a\x1b[Bé\x1b[5~\x0e".encode()
    whole, _ = decode(data)
    for cut in range(len(data)):
        first, rest = decode(data[:cut])
        second, tail = decode(rest + data[cut:])
        assert first + second == whole
        assert tail == b""


def test_a_stray_byte_does_not_swallow_what_follows() -> None:
    assert decode(b"\xf0ab") == (["\ufffd", "a", "b"], b"")
