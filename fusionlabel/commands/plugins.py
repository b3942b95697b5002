"""``fusionlabel plugins``: every registered detector with its status, classes, sensors and device.

Exit status: 0 = every detector loads; 2 = some failed to import (each listed with its reason,
the others still usable), as ``fusionlabel info`` does for a partly broken recording.
"""

from __future__ import annotations

import json

import typer


def plugins(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON array instead of a table."),
    timeout: float = typer.Option(60.0, "--timeout", min=0.1, help="Seconds allowed to import each plugin."),
) -> None:
    """List the detectors registered in the 'fusionlabel.detectors' entry-point group."""
    from fusionlabel.detect.registry import list_detectors

    statuses = list_detectors(timeout_s=timeout)
    if as_json:
        typer.echo(json.dumps([s.to_dict() for s in statuses], indent=1))
    else:
        from rich.console import Console
        from rich.table import Table

        con = Console(soft_wrap=True)
        tab = Table(title="detectors (entry-point group fusionlabel.detectors)", title_justify="left")
        for col in ("name", "status", "classes", "sensors", "device", "from"):
            tab.add_column(col)
        for s in statuses:
            src = f"{s.entry.distribution or '?'} {s.entry.version or ''}".strip() + f" ({s.entry.value})"
            if s.info is not None:
                tab.add_row(
                    s.entry.name,
                    "[green]ok[/green]",
                    ", ".join(s.info.classes),
                    ", ".join(s.info.sensors),
                    s.info.device,
                    src,
                )
            else:
                tab.add_row(s.entry.name, "[red]failed to import[/red]", "-", "-", "-", src)
        con.print(tab)
        for s in statuses:
            if s.reason:
                con.print(f"  {s.entry.name}: {s.reason}", markup=False, highlight=False)
        if not statuses:
            con.print("no detectors registered")
    if any(not s.ok for s in statuses):
        raise typer.Exit(code=2)


def register(app: typer.Typer) -> None:
    app.command("plugins")(plugins)
