"""Where the config files of each scope are; cheap to import (no YAML, no msgspec).

Scopes, lowest precedence first: **global** (``$XDG_CONFIG_HOME/ccmgr-ultra/config.yaml``),
**project** (``<repo>/.ccmgr-ultra/config.yaml``) and **user**
(``<repo>/.ccmgr-ultra/config.local.yaml``). Commands that only need to know *which* files exist
(``ccmgr-watch query`` deciding its database) import this module, not the loader.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final, Literal

from store.paths import app_dir

Scope = Literal["global", "project", "user"]
SCOPES: Final[tuple[Scope, ...]] = ("global", "project", "user")
PROJECT_DIR_NAME: Final = ".ccmgr-ultra"
CONFIG_FILE_NAME: Final = "config.yaml"
LOCAL_FILE_NAME: Final = "config.local.yaml"


def find_project_dir(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding ``.ccmgr-ultra/`` or ``.git``."""
    here = start.resolve()
    home = Path.home().resolve()
    for folder in (here, *here.parents):
        # The global folder lives at ~/.config/ccmgr-ultra, but a ~/.ccmgr-ultra would make
        # every folder under home a "project"; home is never a project.
        if folder == home:
            continue
        if (folder / PROJECT_DIR_NAME).is_dir() or (folder / ".git").exists():
            return folder
    return None


def scope_paths(project_dir: Path | None) -> dict[Scope, Path]:
    """The file of each scope; project and user only when there is a project folder."""
    paths: dict[Scope, Path] = {"global": app_dir() / CONFIG_FILE_NAME}
    if project_dir is not None:
        paths["project"] = project_dir / PROJECT_DIR_NAME / CONFIG_FILE_NAME
        paths["user"] = project_dir / PROJECT_DIR_NAME / LOCAL_FILE_NAME
    return paths


def resolve_scopes(project_dir: str | os.PathLike[str] | None = None) -> dict[Scope, Path]:
    """Scope files for ``--project-dir`` if given, else for the project around the cwd."""
    if project_dir is not None:
        return scope_paths(Path(project_dir).expanduser().resolve())
    return scope_paths(find_project_dir(Path.cwd()))
