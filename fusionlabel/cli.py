"""The ``fusionlabel`` command.

Sub-commands live in :mod:`fusionlabel.commands`, one module each, each exposing
``register(app: typer.Typer) -> None``. Heavy libraries (open3d, torch, PySide6) are imported
inside the command functions so ``fusionlabel --help`` stays fast.

Every command takes ``-h`` as well as ``--help``; boolean options are shown as flags
(:func:`show_flags_as_flags`). ``python -m fusionlabel`` is the same command.

Errors: a :class:`~fusionlabel.core.errors.FusionLabelError` (or an ``OSError``) ends the command
with exit status 1 and one line ``error: <file>: <reason>`` on stderr, never a traceback
(``FUSIONLABEL_DEBUG=1`` shows it).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import typer

from fusionlabel import __version__
from fusionlabel.core.errors import FusionLabelError

#: sub-command modules, registered in this order (``fusionlabel --help`` lists them)
COMMAND_MODULES = (
    "fusionlabel.commands.info",
    "fusionlabel.app.command",  # `fusionlabel open`: the app's own command
    "fusionlabel.commands.synth",
    "fusionlabel.commands.track",
    "fusionlabel.commands.evaluate",
    "fusionlabel.commands.train",
    "fusionlabel.commands.prelabel",
    "fusionlabel.commands.review",
    "fusionlabel.commands.plugins",
    "fusionlabel.commands.export",
    "fusionlabel.commands.qa",
    "fusionlabel.commands.compare",
    "fusionlabel.commands.adapt",
    "fusionlabel.commands.rank",
    "fusionlabel.commands.export_model",
    "fusionlabel.commands.gold",
)


#: ``-h`` beside ``--help`` on every command (inherited by the sub-commands' contexts)
HELP_OPTION_NAMES = ["-h", "--help"]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fusionlabel {__version__}")
        raise typer.Exit()


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="fusionlabel",
        help="Label 3D sensor-fusion recordings with persistent-ID cuboid tracks.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": HELP_OPTION_NAMES},
    )

    @app.callback()
    def _root(
        version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
    ) -> None:
        """FusionLabel: camera + LiDAR + radar cuboid tracking and labelling."""

    for mod in COMMAND_MODULES:
        importlib.import_module(mod).register(app)
    return app


def show_flags_as_flags(command: Any) -> Any:
    """Boolean options (``--force``, ``--scores/--no-scores``, ``-h/--help``) show no ``<bool>``
    value in the help of ``command`` and its sub-commands: typer's help prints an option's
    ``metavar`` when it has one, so flags get an empty one."""
    ctx = typer.Context(command, info_name=command.name, help_option_names=HELP_OPTION_NAMES)
    for param in command.params:
        if getattr(param, "is_flag", False):  # typer's options (its vendored click's) and click's
            param.metavar = ""
    help_option = command.get_help_option(ctx)
    if help_option is not None:
        help_option.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        show_flags_as_flags(sub)
    return command


def build_command() -> Any:
    """The ``fusionlabel`` click command: :func:`build_app` with flags shown as flags."""
    return show_flags_as_flags(typer.main.get_command(build_app()))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (usage errors: 2, like click)."""
    command = build_command()
    try:
        command.main(args=argv, prog_name="fusionlabel")  # standalone: click prints usage errors itself
    except SystemExit as exc:  # click/typer exit with the command's status
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except FusionLabelError as exc:
        if os.environ.get("FUSIONLABEL_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        if os.environ.get("FUSIONLABEL_DEBUG"):
            raise
        print(
            f"error: {exc.filename}: {exc.strerror or exc}" if exc.filename else f"error: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
