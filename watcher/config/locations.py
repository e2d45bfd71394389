"""Where the config files of each scope are; cheap to import (no YAML, no msgspec).

Scopes, lowest precedence first: **global** (``$XDG_CONFIG_HOME/ccmgr-ultra/config.yaml``),
**project** (``<repo>/.ccmgr-ultra/config.yaml``) and **user**
(``<repo>/.ccmgr-ultra/config.local.yaml``). Commands that only need to know *which* files exist
(``ccmgr-watch query`` deciding its database) import this module, not the loader.
"""

from __future__ import annotations

import os

from store.paths import app_dir_text

# typing and pathlib are imported where needed: `ccmgr-watch query` and `session ...` find their
# scope files with the *_text functions, as text, and need neither (~20 % of their start-up).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Final, Literal

    Scope = Literal["global", "project", "user"]
else:
    Scope = str  # at run time; type checkers see the Literal above

SCOPES: Final[tuple[Scope, ...]] = ("global", "project", "user")
PROJECT_DIR_NAME: Final = ".ccmgr-ultra"
CONFIG_FILE_NAME: Final = "config.yaml"
LOCAL_FILE_NAME: Final = "config.local.yaml"


def find_project_folder(start: str) -> str | None:
    """The nearest folder at or above ``start`` holding ``.ccmgr-ultra/`` or ``.git``."""
    folder = os.path.realpath(start)
    home = os.path.realpath(os.path.expanduser("~"))
    while True:
        # The global folder lives at ~/.config/ccmgr-ultra, but a ~/.ccmgr-ultra would make
        # every folder under home a "project"; home is never a project.
        if folder != home and (
            os.path.isdir(os.path.join(folder, PROJECT_DIR_NAME))
            or os.path.exists(os.path.join(folder, ".git"))
        ):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def scope_files(project_dir: str | None) -> dict[Scope, str]:
    """The file of each scope; project and user only when there is a project folder."""
    files: dict[Scope, str] = {"global": os.path.join(app_dir_text(), CONFIG_FILE_NAME)}
    if project_dir is not None:
        files["project"] = os.path.join(project_dir, PROJECT_DIR_NAME, CONFIG_FILE_NAME)
        files["user"] = os.path.join(project_dir, PROJECT_DIR_NAME, LOCAL_FILE_NAME)
    return files


def resolve_scope_files(project_dir: str | os.PathLike[str] | None = None) -> dict[Scope, str]:
    """Scope files for ``--project-dir`` if given, else for the project around the cwd."""
    if project_dir is not None:
        return scope_files(os.path.realpath(os.path.expanduser(os.fspath(project_dir))))
    return scope_files(find_project_folder(os.getcwd()))


def resolve_scopes(project_dir: str | os.PathLike[str] | None = None) -> dict[Scope, Path]:
    """:func:`resolve_scope_files` as Paths."""
    from pathlib import Path

    return {scope: Path(file) for scope, file in resolve_scope_files(project_dir).items()}
