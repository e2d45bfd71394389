"""Encryption of backup files: the age format, through pyrage (age's reference implementation).

A backup encrypted here opens with the standard ``age`` tool: ``age -d -o backup.tar.gz
backup.tar.gz.age`` (asks for the passphrase) or ``age -d -i key.txt ...`` (a key pair). pyrage is
imported only when a backup is encrypted or decrypted, so other commands start fast.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from store.errors import ConfigError, DataError

AGE_MAGIC: Final = b"age-encryption.org/v1\n"
PASSPHRASE_ENV: Final = "CCMGR_WATCH_BACKUP_PASSPHRASE"
IDENTITY_ENV: Final = "CCMGR_WATCH_BACKUP_IDENTITY"


@dataclass(slots=True)
class Keys:
    """What encrypts (a passphrase or recipients) and decrypts (a passphrase or identities)."""

    passphrase: str | None = None
    recipients: list[str] = field(default_factory=list)
    identities: list[str] = field(default_factory=list)
    where: str = ""  # where the passphrase or keys came from, for error messages


def is_age(head: bytes) -> bool:
    """True when a file starting with ``head`` is an age file."""
    return head.startswith(AGE_MAGIC)


def uses_passphrase(data: bytes) -> bool:
    """True when an age file was encrypted with a passphrase (an ``scrypt`` stanza)."""
    header = data[:4096].split(b"\n---", 1)[0]
    return b"\n-> scrypt " in header


def read_secret_file(path: Path, what: str) -> str:
    """The first line of a key or passphrase file; refuses files others can read."""
    try:
        st = path.stat()
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the {what} file {path}: {exc.strerror or exc}",
            hint="check backup.passphrase_file / the path given",
        ) from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"the {what} file {path} can be read by others (mode {stat.S_IMODE(st.st_mode):o})",
            hint=f"chmod 600 {path}",
        )
    return text


def load_passphrase(passphrase_file: str, passphrase_env: str) -> tuple[str | None, str]:
    """The passphrase from ``passphrase_file``, else the environment variable; never argv."""
    if passphrase_file:
        path = Path(passphrase_file).expanduser()
        secret = read_secret_file(path, "passphrase").rstrip("\r\n")
        if not secret:
            raise ConfigError(f"the passphrase file {path} is empty", hint="write a passphrase")
        return secret, str(path)
    name = passphrase_env or PASSPHRASE_ENV
    value = os.environ.get(name)
    return (value, f"${name}") if value else (None, f"${name}")


def load_recipients(path: Path) -> list[str]:
    """age public keys (``age1...``), one a line, ``#`` comments allowed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the recipients file {path}: {exc.strerror or exc}",
            hint="backup.recipients_file names a file of age public keys (age1...)",
        ) from None
    keys = [line.strip() for line in text.splitlines()]
    keys = [k for k in keys if k and not k.startswith("#")]
    if not keys:
        raise ConfigError(f"no age public key in {path}", hint="add a line `age1...`")
    return keys


def load_identities(path: Path) -> list[str]:
    """age private keys (``AGE-SECRET-KEY-1...``) from a key file as ``age-keygen`` writes it."""
    text = read_secret_file(path, "identity")
    keys = [line.strip() for line in text.splitlines()]
    keys = [k for k in keys if k.startswith("AGE-SECRET-KEY-")]
    if not keys:
        raise ConfigError(f"no age private key in {path}", hint="use a file from age-keygen")
    return keys


def encrypt(data: bytes, keys: Keys) -> bytes:
    """``data`` as an age file, to the recipients if any, else with the passphrase."""
    import pyrage

    if keys.recipients:
        try:
            recipients = [pyrage.x25519.Recipient.from_str(k) for k in keys.recipients]
        except pyrage.RecipientError as exc:
            raise ConfigError(
                f"not an age public key in {keys.where or 'the recipients'}: {exc}",
                hint="recipients look like age1...",
            ) from None
        return pyrage.encrypt(data, recipients)
    if not keys.passphrase:
        raise ConfigError(
            "backup.encryption needs a passphrase or recipients, and none is set",
            hint=f"set backup.passphrase_file, ${PASSPHRASE_ENV} or backup.recipients_file",
        )
    return pyrage.passphrase.encrypt(data, keys.passphrase)


def decrypt(data: bytes, keys: Keys, name: str) -> bytes:
    """The plaintext of an age file; DataError when the keys do not open it."""
    import pyrage

    if uses_passphrase(data):
        if not keys.passphrase:
            raise DataError(
                f"{name} is encrypted with a passphrase",
                hint=f"set ${PASSPHRASE_ENV} or backup.passphrase_file (never on the command line)",
            )
        try:
            return pyrage.passphrase.decrypt(data, keys.passphrase)
        except pyrage.DecryptError:
            raise DataError(
                f"cannot decrypt {name}: wrong passphrase (from {keys.where}) or a damaged file",
                hint="check the passphrase; the file itself was not changed",
            ) from None
    if not keys.identities:
        raise DataError(
            f"{name} is encrypted to an age public key",
            hint=f"give the private key file with --identity FILE or ${IDENTITY_ENV}",
        )
    try:
        identities = [pyrage.x25519.Identity.from_str(k) for k in keys.identities]
    except pyrage.IdentityError as exc:
        raise ConfigError(
            f"not an age private key: {exc}", hint="use a file from age-keygen"
        ) from None
    try:
        return pyrage.decrypt(data, identities)
    except pyrage.DecryptError:
        raise DataError(
            f"cannot decrypt {name}: the key does not match, or the file is damaged",
            hint="use the private key of a recipient the backup was made for",
        ) from None
