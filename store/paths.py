"""Where the database lives, and creating files and folders that only the user can read."""

from __future__ import annotations

import os

# pathlib (with urllib.parse and ipaddress) is imported where a Path is made: the read commands
# find their files with the *_text twins and never need it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

DB_ENV = "CCMGR_WATCH_DB"
APP_DIR_NAME = "ccmgr-ultra"
DB_FILE_NAME = "data.db"
DIR_MODE = 0o700
FILE_MODE = 0o600


def config_home_text() -> str:
    """``$XDG_CONFIG_HOME`` when it is an absolute path, else ``~/.config`` (per the XDG spec)."""
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    if xdg and os.path.isabs(xdg):
        return xdg
    return os.path.join(os.path.expanduser("~"), ".config")


def config_home() -> Path:
    """:func:`config_home_text` as a Path."""
    from pathlib import Path

    return Path(config_home_text())


def app_dir_text() -> str:
    """ccmgr-ultra's folder, shared with it: ``$XDG_CONFIG_HOME/ccmgr-ultra``."""
    return os.path.join(config_home_text(), APP_DIR_NAME)


def app_dir() -> Path:
    """:func:`app_dir_text` as a Path."""
    from pathlib import Path

    return Path(app_dir_text())


def default_db_text() -> str:
    """The database path: ``$CCMGR_WATCH_DB`` if set, else ``<app dir>/data.db``."""
    env = os.environ.get(DB_ENV, "")
    if env:
        return os.path.expanduser(env)
    return os.path.join(app_dir_text(), DB_FILE_NAME)


def default_db_path() -> Path:
    """:func:`default_db_text` as a Path."""
    from pathlib import Path

    return Path(default_db_text())


def resolve_db_path(explicit: str | os.PathLike[str] | None) -> Path:
    """The database path a command uses: ``--db`` wins over the environment and the default."""
    from pathlib import Path

    if explicit:
        return Path(explicit).expanduser()
    return default_db_path()


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents with mode 0700.

    A folder that already exists is left as it is: it may be ccmgr-ultra's, or the user's choice,
    and the files we put in it are 0600 anyway.
    """
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        folder.chmod(DIR_MODE)  # mkdir's mode is masked by the umask
    return path


def ensure_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if missing; tighten its mode if it is ours."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW, FILE_MODE)
    try:
        st = os.fstat(fd)
        if st.st_uid == os.getuid() and (st.st_mode & 0o777) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def write_private_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` (0600): readers see the old file or the new one, whole.

    A temporary file in the same folder, fsynced, renamed over ``path``, then the folder fsynced
    (the rename is durable only once the folder's entry is on disk). On any error the temporary
    file is removed and the error raised; ``path`` is untouched.
    """
    import tempfile

    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass  # some filesystems cannot fsync a folder; the data itself is on disk
    finally:
        os.close(dir_fd)
