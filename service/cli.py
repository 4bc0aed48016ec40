"""``tracker-service``: status, start, stop, sync, runs and ui (§9, §11). Each command parses its
options and calls one library function; output is for people unless ``--json``."""

from __future__ import annotations

import json
import os
import time

import typer
from rich.console import Console
from rich.table import Table
from tracker.proto.payloads import RunStatusReply, SidecarStatusReply
from tracker.store.uri import redact

app = typer.Typer(
    help="Manage the tracker sidecar and the store.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()


# Every command acts on one store: --store, else TRACKER_STORE, else the default (§9).
_STORE_HELP = (
    "Store folder, file:// or postgresql://...?blobs=s3://... URI "
    "(default: TRACKER_STORE, else ~/.tracker/store)."
)


def _store(store: str | None) -> str:
    from tracker.settings import default_store
    from tracker.store.uri import parse_store_uri

    return parse_store_uri(store).location if store else default_store()


def _ago(ts: float | None) -> str:
    if not ts:
        return "never"
    return f"{time.time() - ts:.1f} s ago"


@app.command()
def status(
    store: str | None = typer.Option(None, help=_STORE_HELP),
    all_stores: bool = typer.Option(False, "--all", help="Every sidecar of this user."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Show the store's sidecar (or all), its runs and what is still to be synced."""
    from tracker.client.control import sidecar_statuses
    from tracker.service.sync import unsynced_offline_runs
    from tracker.settings import Env

    sidecars = sidecar_statuses(None if all_stores else _store(store))
    roots = list(dict.fromkeys([os.getcwd()] + ([Env.get(Env.DIR)] if Env.get(Env.DIR) else [])))
    offline = unsynced_offline_runs(roots)
    if as_json:
        typer.echo(
            json.dumps(
                {"sidecars": sidecars, "unsynced_offline_runs": offline}, indent=1, default=str
            )
        )
        return
    if not sidecars:
        where = "" if all_stores else f" (store {redact(_store(store))})"
        console.print(f"No tracker sidecar is running.{where}")
    for sc in sidecars:
        if "error" in sc:
            console.print(
                f"[red]sidecar for {redact(sc['store'])} does not answer: {sc['error']}[/red]"
            )
        else:
            _print_sidecar(SidecarStatusReply.from_wire(sc))
    if offline:
        console.print(f"{len(offline)} offline run(s) not yet synced (tracker-service sync PATH):")
        for d in offline:
            console.print(f"  {d}")


def _print_sidecar(sc: SidecarStatusReply) -> None:
    typer.echo(
        f"sidecar pid {sc.pid}  up {sc.uptime:.0f} s  store {sc.store}  "
        f"queue {sc.queue_depth} rows  {sc.records_per_s:.0f} records/s  {sc.fsyncs} fsyncs"
    )
    if sc.rejected:
        typer.echo(f"  rejected messages: {sc.rejected}")
    backlog = sc.backlog or {}
    if backlog.get("failing_since") or backlog.get("export_errors"):
        typer.echo(
            f"  store unreachable since {_ago(backlog.get('failing_since'))}: backlog "
            f"{backlog.get('catalogue_writes', 0)} catalogue writes, "
            f"{backlog.get('history_rows', 0)} history rows, {backlog.get('files', 0)} files "
            f"(kept in the transaction logs; retried)"
        )
    for stage, err in sc.errors.items():
        typer.echo(
            f"  {stage}: {err['count']} failure(s), last {_ago(err.get('at'))}: {err.get('last')}"
        )
    for run in sc.runs:
        _print_run(run)
    if not sc.runs:
        typer.echo("  no active runs")


def _print_run(r: RunStatusReply) -> None:
    fp = r.files_pending or {}
    typer.echo(f"  run {r.path}  {r.state}  pid {r.pid}")
    typer.echo(
        f"    last step {r.last_step_committed}  rows {r.rows_committed} committed / "
        f"{r.history_rows_exported} exported  files pending "
        + " ".join(f"{k}:{v}" for k, v in fp.items())
        + f" ({r.files_bytes_copied} bytes copied)"
    )
    typer.echo(
        f"    alerts {r.alerts_sent} sent / {r.alerts_throttled} throttled  steps dropped "
        f"{r.steps_dropped}"
        + (f" (first: step {r.first_dropped_step})" if r.steps_dropped else "")
        + f"  last sync {_ago(r.sync_time)}"
    )
    typer.echo(
        f"    transaction log {r.log_bytes} bytes, {r.log_synced_bytes} on disk "
        f"(fsynced {_ago(r.log_synced_at)})"
    )
    ap = r.artifacts_pending or {}
    if ap.get("versions"):
        typer.echo(
            f"    artifacts pending: {ap['versions']} versions, {ap.get('files', 0)} files, "
            f"{ap.get('bytes', 0)} bytes"
        )
    if r.export_error:
        typer.echo(f"    export error: {r.export_error}")
    for err in r.file_errors:
        typer.echo(f"    file error: {err}")


@app.command()
def start(
    store: str | None = typer.Option(None, help=_STORE_HELP),
    idle_timeout: float = typer.Option(
        30.0, help="Seconds to stay up after the last run finished."
    ),
) -> None:
    """Start the sidecar for a store (does nothing if it runs already)."""
    from tracker.client.control import start as start_sidecar

    info = start_sidecar(_store(store), idle_timeout)
    console.print(f"sidecar running, pid {info['pid']}")


@app.command()
def stop(
    store: str | None = typer.Option(None, help=_STORE_HELP),
    all_stores: bool = typer.Option(False, "--all", help="Stop every sidecar of this user."),
) -> None:
    """Stop the store's sidecar (or all with --all): runs being finished are finished, runs of
    processes that are gone are closed, live runs are handed to the next sidecar."""
    from tracker.client.control import running_sidecars
    from tracker.client.control import stop as stop_sidecar

    targets = running_sidecars(None if all_stores else _store(store))
    if not targets:
        where = "" if all_stores else f" (store {redact(_store(store))})"
        console.print(f"No tracker sidecar is running.{where}")
        return
    for paths in targets:
        ok = stop_sidecar(paths)
        # echo, not rich: a path wrapped over two lines cannot be copied
        typer.echo(f"{'stopped' if ok else 'still stopping'}: sidecar for {redact(paths.store)}")


@app.command()
def sync(
    paths: list[str] = typer.Argument(..., help="Run directories, tracker/ folders or .trk files."),
    store: str | None = typer.Option(None, help=_STORE_HELP),
    force: bool = typer.Option(False, help="Sync again even if already synced."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Put offline runs into the store (idempotent: a run synced twice is not duplicated)."""
    from tracker.service.sync import find_run_dirs, sync_run_dir
    from tracker.settings import Env

    run_dirs = find_run_dirs(paths)
    if not run_dirs:
        console.print("No runs to sync.")
        raise typer.Exit(1)
    results = []
    for run_dir in run_dirs:
        res = sync_run_dir(run_dir, _store(store), force=force, s3_defaults=Env.s3_defaults())
        results.append(res)
        if not as_json:
            extra = (
                f", {res.dropped} damaged record(s) skipped at {res.damaged}" if res.dropped else ""
            )
            if res.status == "synced":
                console.print(f"synced {res.path}: {res.rows} rows, {res.state}{extra}")
            elif res.status == "skipped":
                console.print(f"skipped {res.path or run_dir}: {res.message}")
            else:
                console.print(f"[red]failed {run_dir}: {res.message}[/red]")
    if as_json:
        typer.echo(json.dumps([r.__dict__ for r in results], default=str))
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


@app.command()
def runs(
    project: str | None = typer.Argument(None, help="entity/project or project."),
    store: str | None = typer.Option(None, help=_STORE_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List the runs of a project."""
    from tracker.api import Api

    api = Api(store=_store(store))
    found = api.runs(project)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "path": "/".join(r.path),
                        "name": r.name,
                        "state": r.state,
                        "created_at": r.created_at,
                        "last_step": r.lastHistoryStep,
                    }
                    for r in found
                ]
            )
        )
        return
    table = Table("run", "name", "state", "group", "last step", "created")
    for r in found:
        table.add_row(
            "/".join(r.path),
            r.name,
            r.state,
            r.group or "",
            str(r.lastHistoryStep),
            r.created_at or "",
        )
    console.print(table)


@app.command()
def gc(
    store: str | None = typer.Option(None, help=_STORE_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would be removed."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Remove artifact blobs that no version refers to (safe while runs write)."""
    from tracker.settings import Env
    from tracker.store import open_store
    from tracker.store.artifacts import collect_garbage

    opened = open_store(_store(store), Env.s3_defaults())
    try:
        result = collect_garbage(opened, dry_run=dry_run)
    finally:
        opened.close()
    if as_json:
        typer.echo(json.dumps(result))
        return
    verb = "would remove" if dry_run else "removed"
    typer.echo(f"gc: {verb} {result['blobs']} blobs, {result['bytes']} bytes")


@app.command()
def ui(
    port: int = typer.Option(8080, help="TCP port (0: any free one)."),
    host: str = typer.Option("127.0.0.1", help="Address to bind (not loopback: warned)."),
    store: str | None = typer.Option(None, help=_STORE_HELP),
) -> None:
    """Serve the local web UI over the store (read-only) until Ctrl-C."""
    from tracker.settings import Env
    from tracker.ui.server import serve

    uri = store or Env.get(Env.STORE) or _store(None)
    serve(uri, _store(store), host=host, port=port, s3_defaults=Env.s3_defaults())


def main() -> None:
    from tracker.errors import Error

    try:
        app()
    except Error as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
