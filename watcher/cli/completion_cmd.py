"""``ccmgr-watch completion bash|zsh|fish``: shell completion from the same argparse definitions.

The scripts come from argcomplete: each is a small hook that, at a Tab press, runs
``ccmgr-watch`` with ``_ARGCOMPLETE`` set; :func:`complete` then builds every command's parser
(the normal start-up builds only the named command's) and lets argcomplete answer from them. So
completion always matches the installed commands and options, and nothing of it is imported by
an ordinary run (``main`` looks at one environment variable).
"""

from __future__ import annotations

import argparse
import sys

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any, NoReturn

PROG = "ccmgr-watch"
SHELLS = ("bash", "zsh", "fish")


def register(commands: Any, group: Callable[[str, str], Any], db_parent: Any) -> None:
    """Add ``completion``."""
    completion = commands.add_parser(
        "completion",
        help="print (or install) the shell completion script for bash, zsh or fish",
        description="Print the completion script for SHELL, or write it where that shell finds "
        "it with --install: bash: $BASH_COMPLETION_USER_DIR/completions/ccmgr-watch (default "
        "~/.local/share/bash-completion/completions, loaded by the bash-completion package); "
        "zsh: ~/.local/share/zsh/site-functions/_ccmgr-watch (add that folder to fpath before "
        "compinit); fish: ~/.config/fish/completions/ccmgr-watch.fish. Without --install: "
        'eval "$(ccmgr-watch completion bash)" in ~/.bashrc works too.',
    )
    completion.add_argument("shell", choices=SHELLS, help="the shell")
    completion.add_argument(
        "--install",
        action="store_true",
        help="write the script to the shell's standard place instead of printing it",
    )
    completion.add_argument(
        "--json", action="store_true", help="with --install: print where it went as JSON"
    )
    completion.set_defaults(handler=run_completion)


def script(shell: str) -> str:
    """The completion script for ``shell``."""
    from argcomplete.shell_integration import shellcode

    return shellcode([PROG], shell=shell)


def install_path(shell: str) -> Path:
    """Where ``--install`` writes the script for ``shell`` (see the command's description)."""
    import os
    from pathlib import Path

    from store.paths import config_home

    data_home = os.environ.get("XDG_DATA_HOME", "")
    data = Path(data_home) if os.path.isabs(data_home) else Path.home() / ".local" / "share"
    if shell == "bash":
        user_dir = os.environ.get("BASH_COMPLETION_USER_DIR", "")
        base = Path(user_dir) if os.path.isabs(user_dir) else data / "bash-completion"
        return base / "completions" / PROG
    if shell == "zsh":
        return data / "zsh" / "site-functions" / f"_{PROG}"
    return config_home() / "fish" / "completions" / f"{PROG}.fish"


_ACTIVATE = {
    "bash": "new bash shells load it (with the bash-completion package); now: source {path}",
    "zsh": "add `fpath=({folder} $fpath)` before `compinit` in ~/.zshrc, then start a new zsh",
    "fish": "new fish shells load it",
}


def run_completion(args: argparse.Namespace) -> int:
    """Handler of ``completion``."""
    import shlex

    from store.errors import UsageError

    text = script(args.shell)
    if not args.install:
        if args.json:
            raise UsageError("--json goes with --install", hint="add --install, or drop --json")
        sys.stdout.write(text)
        return 0
    from store.errors import CcmgrError
    from store.paths import ensure_private_dir, write_private_atomic

    path = install_path(args.shell)
    try:
        ensure_private_dir(path.parent)
        write_private_atomic(path, text.encode("utf-8"))
    except OSError as exc:
        raise CcmgrError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint=f"print it instead and save it yourself: ccmgr-watch completion {args.shell}",
        ) from exc
    activate = _ACTIVATE[args.shell].format(
        path=shlex.quote(str(path)), folder=shlex.quote(str(path.parent))
    )
    if args.json:
        from watcher.cli.output import print_json

        print_json({"shell": args.shell, "file": str(path), "activate": activate})
        return 0
    print(f"wrote {path}")
    print(activate)
    return 0


def complete() -> NoReturn:
    """Answer a Tab press (``_ARGCOMPLETE`` is set by the script) from every command's parser,
    then exit (argcomplete writes the candidates to the descriptor the script reads)."""
    import os

    import argcomplete

    from watcher.cli.main import build_parser

    argcomplete.autocomplete(build_parser(None))
    os._exit(1)  # argcomplete exits itself; reaching here means it found nothing to do
