"""Entry point: builds the argument parser, runs one command, maps errors to exit codes.

Errors are mapped here and nowhere else: a :class:`store.errors.CcmgrError` becomes
``Error: <message>`` (and ``Hint: <hint>``) on stderr with its exit code; a usage mistake exits 2;
anything else is a bug (exit 70), shown without a traceback unless ``CCMGR_WATCH_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from store.errors import EXIT_CODES, CcmgrError, QueryError, UsageError
from watcher import __version__


def _import_argparse_without_gettext() -> None:
    """Import argparse with its messages as written, without importing gettext.

    argparse imports gettext (~1 ms, 2% of a read command's run) only to take its ``gettext``
    and ``ngettext``; ccmgr-watch's messages are English only and no catalog for argparse's
    domain ships with Python (see :func:`_skip_argparse_translations`), so argparse is handed
    functions that return the message. gettext itself stays importable as ever.
    """
    if "argparse" in sys.modules or "gettext" in sys.modules:
        return
    import types

    untranslated = types.ModuleType("gettext")
    untranslated.gettext = lambda message: message  # type: ignore[attr-defined]
    untranslated.ngettext = _ngettext  # type: ignore[attr-defined]
    sys.modules["gettext"] = untranslated
    try:
        import argparse  # noqa: F401  # imported here with the untranslated functions
    finally:
        del sys.modules["gettext"]


def _ngettext(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


_import_argparse_without_gettext()

import argparse  # noqa: E402  # after the function above

# typing is imported by type checkers only: it costs the read commands' start-up ~10%.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

    from watcher.cli.commands import Registrar

    SubParsers = Any  # argparse's _SubParsersAction, which is private
    GroupFactory = Callable[[str, str], SubParsers]


_widths: dict[tuple[str | None, int], int] = {}


def _help_width() -> int:
    """The width argparse gives help text: the terminal's columns (as shutil finds them) - 2.

    Found once per process (per $COLUMNS): argparse makes a formatter for every argument it
    adds, ~30 per command, and asking the terminal each time is a failing ioctl when stdout is
    a pipe."""
    key = (os.environ.get("COLUMNS"), id(sys.__stdout__))
    width = _widths.get(key)
    if width is None:
        width = _widths[key] = _find_help_width()
    return width


def _find_help_width() -> int:
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0 and sys.__stdout__ is not None:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return (columns if columns > 0 else 80) - 2


class _Formatter(argparse.HelpFormatter):
    """argparse's help formatter, sized without importing shutil.

    argparse builds a formatter for every argument it adds, and its default one imports shutil
    (with zlib, bz2 and lzma) to find the terminal's width: ~2 ms of every command's start-up.
    """

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        super().__init__(
            prog, indent_increment, max_help_position, _help_width() if width is None else width
        )


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake raises UsageError so it is reported like every error.

    A command whose positional argument may start with '-' (a query's negation, a session named
    ``-x``) sets ``dash_example``, the same command with that argument after ``--``: the hint
    shows it when such a word was taken for an unknown option, and only then.
    """

    dash_example: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)
        self._seen: list[str] = []
        # The deepest parser's defaults win: after parsing, the namespace names the command.
        self.set_defaults(_prog=self.prog)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """As argparse's, remembering the words this parser was given (for :meth:`error`)."""
        self._seen = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        """As argparse's; unknown words are reported with the help of the command they were
        given to (argparse reports them from the top-level parser)."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            prog: str = getattr(parsed, "_prog", self.prog)
            example: str | None = getattr(parsed, "_dash_example", None)
            raise UsageError(
                _redacted(f"unrecognized arguments: {' '.join(extras)}"),
                hint=_redacted(_usage_hint(prog, example, extras)),
            )
        return parsed

    def error(self, message: str) -> NoReturn:
        """Raise a UsageError with a hint (argparse prints usage and exits 2 instead)."""
        dashed: list[str] = []
        if message.startswith(("the following arguments are required", "unrecognized")):
            dashed = [word for word in self._seen if self._looks_unknown(word)]
        raise UsageError(
            _redacted(message), hint=_redacted(_usage_hint(self.prog, self.dash_example, dashed))
        )

    def _looks_unknown(self, word: str) -> bool:
        return (
            word.startswith("-")
            and word != "--"
            and word.split("=", 1)[0] not in self._option_string_actions
            and not self._negative_number_matcher.match(word)
        )


def _redacted(text: str) -> str:
    """A usage message echoes what was typed: a PostgreSQL URL in it loses its password."""
    from store.pgurl import redact_text

    return redact_text(text)


def allow_dash_values(parser: argparse.ArgumentParser, example: str) -> None:
    """Say that ``parser``'s positional argument may start with '-'; ``example`` is the command
    line with that argument after ``--``, its ``{}`` standing for the word that was given."""
    if isinstance(parser, _Parser):
        parser.dash_example = example
    parser.set_defaults(_dash_example=example)


def _usage_hint(prog: str, example: str | None, unknown: Sequence[str]) -> str:
    hint = f"see `{prog} --help`"
    dashed = [word for word in unknown if word.startswith("-")]
    if example and dashed:
        hint += f"; a value that starts with '-' goes after '--': {example.format(dashed[0])}"
    return hint


_DB_HELP = (
    "database file or postgresql:// URL (default: $CCMGR_WATCH_DB, else storage.database in "
    "the config, else $XDG_CONFIG_HOME/ccmgr-ultra/data.db)"
)


def _db_parent() -> argparse.ArgumentParser:
    parent = _Parser(add_help=False)
    parent.add_argument(
        "--db",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help=_DB_HELP,
    )
    return parent


def _needed_registrars(argv: Sequence[str] | None) -> list[str]:
    """The registrar modules needed to parse ``argv``.

    When it names a command first, perhaps after the global ``--db PATH`` (the usual
    ``ccmgr-watch query ...``), the modules that add that command: argparse hands everything
    after it to that command's parser. Otherwise (None, ``--help``, ``--version``, unknown input)
    every one, so help and errors list them all.
    """
    from watcher.cli.commands import REGISTRARS

    first = _command_word(argv)
    chosen = [module for module, names in REGISTRARS if first in names]
    return chosen or [module for module, _ in REGISTRARS]


def _command_word(argv: Sequence[str] | None) -> str | None:
    """The command ``argv`` names: its first word after the global ``--db PATH`` or
    ``--db=PATH``; None when anything else comes first."""
    if not argv:
        return None
    at = 0
    while at < len(argv):
        word = argv[at]
        if word == "--db":
            at += 2
        elif word.startswith("--db="):
            at += 1
        else:
            return word if not word.startswith("-") else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: only the command groups it names, or every one (None)."""
    parser = _Parser(
        prog="ccmgr-watch",
        description="Records every tmux session's life and lets you find it again.",
        epilog="Exit codes: 0 ok, 1 failure or difference, 2 usage or query mistake, "
        "3 config error, 4 bad input file, 5 database problem, 6 tmux or watcher problem, "
        "70 internal error.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=None,
        help=_DB_HELP + "; also accepted after the command",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[str, SubParsers] = {}
    db_parent = _db_parent()
    registrars = _needed_registrars(argv)
    # A registrar adds more than the command given (search_cmd adds `query` and `session
    # search|history`): when argv names one command, the others' parsers are not built.
    wanted = _command_word(argv) if len(registrars) < len(_all_registrars()) else None
    adder: SubParsers = commands if wanted is None else _OnlyCommand(commands, wanted)

    def group(name: str, help_text: str) -> SubParsers:
        if wanted is not None and name != wanted:
            return _UNUSED
        if name not in groups:
            # One style everywhere: summaries lower case without a period, descriptions as
            # sentences.
            summary = help_text[:1].lower() + help_text[1:].rstrip(".")
            description = help_text[:1].upper() + help_text[1:].rstrip(".") + "."
            sub = commands.add_parser(name, help=summary, description=description)
            groups[name] = sub.add_subparsers(
                dest=f"{name}_command", metavar="COMMAND", required=True, parser_class=_Parser
            )
        return groups[name]

    for module in registrars:
        __import__(module)  # not importlib: one import less at start-up
        register: Registrar = sys.modules[module].register
        register(adder, group, db_parent)
    return parser


def _all_registrars() -> list[tuple[str, tuple[str, ...]]]:
    from watcher.cli.commands import REGISTRARS

    return REGISTRARS


class _Unused:
    """What a registrar gets for a command that is not on the command line: it takes every
    call (add_parser, add_argument, set_defaults...) and builds nothing."""

    def __getattr__(self, name: str) -> Callable[..., _Unused]:
        return self._take

    def _take(self, *args: object, **kwargs: object) -> _Unused:
        return self


_UNUSED = _Unused()


class _OnlyCommand:
    """The top-level subparsers, adding only the command given on the command line."""

    def __init__(self, commands: SubParsers, wanted: str) -> None:
        self._commands = commands
        self._wanted = wanted

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        """argparse's add_parser for the wanted command; nothing for the others."""
        if name != self._wanted:
            return _UNUSED
        return self._commands.add_parser(name, **kwargs)


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser(argv).parse_args(argv)
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except CcmgrError as exc:
        _report(exc.message, exc.hint, _pointer(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `ccmgr-watch query ... | head`: the reader went away; not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug: report it plainly, full trace only on request
        if os.environ.get("CCMGR_WATCH_DEBUG"):
            raise
        sqlite3 = sys.modules.get("sqlite3")  # looked up, not imported: start-up stays fast
        if sqlite3 is not None and isinstance(exc, sqlite3.DatabaseError):
            _report(
                f"the database cannot be used: {exc}",
                "check that --db (or CCMGR_WATCH_DB) names the database the watcher writes; "
                "`sqlite3 PATH 'PRAGMA integrity_check'` checks the file itself",
            )
            return EXIT_CODES["store"]
        _report(
            f"internal error: {type(exc).__name__}: {exc}",
            "this is a bug in ccmgr-watch; rerun with CCMGR_WATCH_DEBUG=1 for the traceback "
            "and report it",
        )
        return EXIT_CODES["bug"]


def _report(message: str, hint: str | None, pointer: str = "") -> None:
    # Every error passes here: a PostgreSQL URL in it never shows its password, whichever
    # command built the message.
    sys.stderr.write(f"Error: {_redacted(message)}\n")
    sys.stderr.write(pointer)
    if hint:
        sys.stderr.write(f"Hint: {_redacted(hint)}\n")


_POINTER_WIDTH = 60


def _pointer(exc: CcmgrError) -> str:
    """For a QueryError: the query (a window of it, if long) with a caret under the position."""
    if not isinstance(exc, QueryError) or not exc.query:
        return ""
    from watcher.cli.output import display_width

    text, at = exc.query, max(0, min(exc.position, len(exc.query)))
    start = max(0, at - _POINTER_WIDTH // 2)
    end = min(len(text), start + _POINTER_WIDTH)
    shown = "".join(c if c.isprintable() else " " for c in text[start:end])
    before = "".join(c if c.isprintable() else " " for c in text[start:at])
    # Wide characters take two columns: pad so the caret lands under the right one.
    pad = display_width(before)
    left = "..." if start > 0 else ""
    right = "..." if end < len(text) else ""
    return f"  {left}{shown}{right}\n  {' ' * (len(left) + pad)}^ (position {at + 1})\n"


def _skip_argparse_translations() -> None:
    """Have argparse use its messages as written, without asking gettext for a translation.

    argparse passes every help and error text through gettext while it builds the parsers, and
    gettext, which keeps no record of catalogs it did not find, looks for one on disk each time:
    with ``LANG=en_US.UTF-8`` that is ~100 stat calls and ~2.5 ms, 5 % of a read command's run.
    No catalog for argparse's domain ships with Python, and ccmgr-watch's own messages are
    English only, so nothing that would have been shown changes.
    """
    argparse._ = lambda message: message  # type: ignore[attr-defined]
    argparse.ngettext = _ngettext  # type: ignore[attr-defined]


def main() -> NoReturn:
    """Console-script entry point."""
    _skip_argparse_translations()
    if "_ARGCOMPLETE" in os.environ:  # a Tab press in a shell with `ccmgr-watch completion`
        from watcher.cli.completion_cmd import complete

        complete()
    sys.exit(run())
