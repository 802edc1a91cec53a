"""`neon-tenants audit [--fix] [--json|--markdown]`: do Neon, the fleet and the state agree?

Exit codes: 0 consistent (after the fixes, with `--fix`), 1 inconsistencies remain (or an
error). Read-only without `--fix`; with it, only the safe repairs (automation/audit.py).
"""

from __future__ import annotations

import json

import typer

from neon_tenants.cli.fleet_cmds import JSON, _session


def audit(
    fix: bool = typer.Option(False, "--fix", help="apply the safe repairs, list the rest"),
    markdown: bool = typer.Option(False, "--markdown", help="a markdown report"),
    as_json: bool = JSON,
) -> None:
    """Compare every Neon project of the configured orgs, the fleets and each stack's state."""
    with _session(as_json, markdown=markdown) as (fm, out):
        report = fm.audit(fix=fix)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, sort_keys=True))
    elif markdown:
        typer.echo(report.markdown())
    else:
        out.console.print(report.markdown())
    raise typer.Exit(report.exit_code)
