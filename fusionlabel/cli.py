"""The ``fusionlabel`` command.

Sub-commands live in :mod:`fusionlabel.commands`, one module each, each exposing
``register(app: typer.Typer) -> None``. Heavy libraries (open3d, torch, PySide6) are imported
inside the command functions so ``fusionlabel --help`` stays fast.

Errors: a :class:`~fusionlabel.core.errors.FusionLabelError` (or an ``OSError``) ends the command
with exit status 1 and one line ``error: <file>: <reason>`` on stderr, never a traceback
(``FUSIONLABEL_DEBUG=1`` shows it).
"""

from __future__ import annotations

import importlib
import os
import sys

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
)


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
    )

    @app.callback()
    def _root(
        version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
    ) -> None:
        """FusionLabel: camera + LiDAR + radar cuboid tracking and labelling."""

    for mod in COMMAND_MODULES:
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name == mod:  # command not written yet in this checkout
                continue
            raise
        m.register(app)
    return app


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (usage errors: 2, like click)."""
    app = build_app()
    try:
        app(args=argv, prog_name="fusionlabel")  # standalone: click prints usage errors itself
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
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
