"""The backup section's new values and fields validate like the rest of the config."""

from __future__ import annotations

import pytest

from watcher.config.load import check_document
from watcher.config.yamlio import parse_document


@pytest.mark.parametrize(
    "text",
    [
        "backup:\n    compression: zstd\n",
        "backup:\n    encryption: age\n",
        "backup:\n    encryption: age\n    recipients_file: ~/keys.txt\n",
        "backup:\n    encryption: passphrase\n    passphrase_env: MY_SECRET\n",
        "backup:\n    retention:\n        keep_hourly: 24\n",
    ],
)
def test_valid(text: str) -> None:
    checked = check_document(parse_document(text, "config.yaml"))
    assert not checked.errors, [i.render() for i in checked.errors]


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        ("backup:\n    passphrase_env: 'a b'\n", "backup.passphrase_env", "invalid environment"),
        ("backup:\n    retention:\n        keep_hourly: -1\n", "backup.retention.keep_hourly", ""),
        ("backup:\n    compression: xz\n", "backup.compression", "invalid compression: xz"),
    ],
)
def test_invalid(text: str, path: str, message: str) -> None:
    checked = check_document(parse_document(text, "config.yaml"))
    assert [i.path for i in checked.errors] == [path]
    assert checked.errors[0].message.startswith(message)
    assert "zstd" in (checked.errors[0].hint or "") or path != "backup.compression"
