"""The UI's ASGI app (Starlette): JSON endpoints over the store, file downloads, static pages.

Read-only: nothing here writes to the store. Pages are one static HTML file whose script reads
the path (``/<entity>/<project>/runs/<id>``...) and asks the JSON endpoints; every user string
is put in the page as text by that script, and the Content-Security-Policy allows no inline
script, so a key or a note holding HTML shows as text.
"""

from __future__ import annotations

import os
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from tracker.store import open_store, parse_store_uri
from tracker.store.keys import file_key
from tracker.ui import media, queries
from tracker.ui.series import DEFAULT_BUCKETS, check_buckets

# realpath: an editable install links each file, and StaticFiles refuses links leaving its folder
STATIC = os.path.join(os.path.dirname(os.path.realpath(__file__)), "static")
_CSP = (
    "default-src 'self'; script-src 'self'; img-src 'self' data: blob:; "
    "style-src 'self' 'unsafe-inline'; connect-src 'self'"
)
_CHUNK = 1 << 20


class UiState:
    """The store the app reads, opened once (the catalogue keeps a connection per thread)."""

    def __init__(self, store_uri: str, s3_defaults: dict[str, str] | None = None) -> None:
        where = parse_store_uri(store_uri)
        self.store = open_store(where.uri, s3_defaults)
        # a sidecar of this host serving the store (a running run's tail) is found by this
        self.root = where.location


def create_app(store_uri: str, s3_defaults: dict[str, str] | None = None) -> Starlette:
    """The UI app over the store at ``store_uri``.

    Args:
        store_uri: a store folder or URI (any backend ``tracker.store.open_store`` serves).
        s3_defaults: S3 options a shared store's URI does not name (the AWS variables', from
            ``tracker.settings.Env.s3_defaults()``).

    Returns:
        The Starlette application (serve it with uvicorn, or test it with its test client).

    Raises:
        tracker.Error: a store URI whose scheme is not served.
    """
    state = UiState(store_uri, s3_defaults)

    def api(handler):
        async def endpoint(request: Request) -> Response:
            from starlette.concurrency import run_in_threadpool

            try:
                body = await run_in_threadpool(handler, state, request)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            if body is None:
                return JSONResponse({"error": "not found"}, status_code=404)
            return JSONResponse(body, headers={"Cache-Control": "no-store"})

        return endpoint

    routes = [
        Route("/api/projects", api(_projects)),
        Route("/api/runs/{entity}/{project}", api(_runs)),
        Route("/api/run/{entity}/{project}/{run_id}", api(_run)),
        Route("/api/run/{entity}/{project}/{run_id}/series", api(_series)),
        Route("/api/run/{entity}/{project}/{run_id}/output", api(_output)),
        Route("/api/run/{entity}/{project}/{run_id}/media", api(_media)),
        Route("/api/run/{entity}/{project}/{run_id}/table", api(_table)),
        Route("/files/{entity}/{project}/{run_id}/{name:path}", _download(state)),
        Route("/media/{entity}/{project}/{run_id}/{name:path}", _media_file(state)),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        Route("/{page:path}", _page),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])
    app.state.ui = state
    return app


class SecurityHeaders:
    """Headers on every answer: no inline script may run, nothing is sniffed into HTML."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = _CSP
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _page(request: Request) -> Response:
    if request.path_params["page"].startswith(("api/", "files/", "media/")):
        raise HTTPException(404)
    return FileResponse(os.path.join(STATIC, "index.html"))


def _projects(state: UiState, request: Request) -> Any:
    return {"projects": queries.projects(state.store)}


def _param(request: Request, name: str, kind: type, default: Any = None) -> Any:
    """Query parameter ``name`` converted by ``kind`` (``int``/``float``), else ``default``.

    Raises:
        ValueError: a value ``kind`` cannot read (the answer is a 400 naming the parameter).
    """
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    try:
        return kind(value)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise ValueError(f"{name} must be {what}, got {value!r}") from None


def _int(request: Request, name: str, default: int) -> int:
    return _param(request, name, int, default)


def _float(request: Request, name: str) -> float | None:
    return _param(request, name, float)


def _runs(state: UiState, request: Request) -> Any:
    q, p = request.query_params, request.path_params
    return queries.runs_page(
        state.store,
        p["entity"],
        p["project"],
        queries.parse_filter(q.get("filter")),
        q.get("order") or "-created_at",
        max(0, _int(request, "offset", 0)),
        min(1000, max(1, _int(request, "limit", 50))),
    )


def _record(state: UiState, request: Request) -> dict | None:
    p = request.path_params
    return state.store.catalogue.get_run(p["entity"], p["project"], p["run_id"])


def _run(state: UiState, request: Request) -> Any:
    p = request.path_params
    return queries.run_detail(state.store, p["entity"], p["project"], p["run_id"])


def _series(state: UiState, request: Request) -> Any:
    run = _record(state, request)
    if run is None:
        return None
    q = request.query_params
    stream = q.get("stream") or "history"
    if stream not in ("history", "system"):
        raise ValueError(f"stream must be 'history' or 'system', got {stream!r}")
    keys = [k for k in q.getlist("key") if k]
    if not keys:
        raise ValueError("give at least one key= parameter")
    return queries.series(
        state.store,
        state.root,
        run,
        keys,
        x=q.get("x") or "_step",
        stream=stream,
        buckets=check_buckets(_int(request, "buckets", DEFAULT_BUCKETS)),
        lo=_float(request, "lo"),
        hi=_float(request, "hi"),
    )


_OUTPUT_LIMIT = 256 * 1024  # one answer's worth; the page asks again from the new offset


def _output(state: UiState, request: Request) -> Any:
    run = _record(state, request)
    if run is None:
        return None
    offset = max(0, _int(request, "offset", 0))
    key = file_key(run["entity"], run["project"], run["run_id"], "output.log")
    try:
        with state.store.blobs.open(key) as fh:
            fh.seek(offset)
            data = fh.read(_OUTPUT_LIMIT)
    except FileNotFoundError:
        data = b""
    return {"offset": offset + len(data), "text": data.decode("utf-8", "replace")}


def _media(state: UiState, request: Request) -> Any:
    run = _record(state, request)
    return None if run is None else media.media_index(state.store, state.root, run)


def _table(state: UiState, request: Request) -> Any:
    run = _record(state, request)
    if run is None:
        return None
    path = request.query_params.get("path") or ""
    if not path:
        raise ValueError("give the table's path= (media/tables/...)")
    limit = min(1000, max(1, _int(request, "limit", media.TABLE_ROWS)))
    return media.table_rows(state.store, run, path, limit)


def _download(state: UiState):
    """Downloads of a run's files: only names the catalogue lists for that run, only keys
    inside the run's files (``..`` and absolute names are refused by the key rules)."""

    def find(p: dict[str, str]) -> str | None:
        key = file_key(p["entity"], p["project"], p["run_id"], p["name"])
        records = state.store.catalogue.get_files(
            p["entity"], p["project"], p["run_id"], [p["name"]]
        )
        return key if records else None

    async def endpoint(request: Request) -> Response:
        from urllib.parse import quote

        filename = quote(request.path_params["name"].rsplit("/", 1)[-1])
        return await _blob(
            state,
            request,
            find,
            "application/octet-stream",  # never rendered by the browser as a page
            {"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
        )

    return endpoint


def _media_file(state: UiState):
    """A run's media file shown inline by the run page (images, videos): only files under
    ``media/`` that the catalogue lists for the run, only types an ``<img>``/``<video>`` shows
    (an HTML or other media file is a download from ``/files``)."""

    def find(p: dict[str, str]) -> str | None:
        run = {"entity": p["entity"], "project": p["project"], "run_id": p["run_id"]}
        return media.media_file_key(state.store, run, p["name"])

    async def endpoint(request: Request) -> Response:
        ext = request.path_params["name"].rsplit(".", 1)[-1].lower()
        kind = media.INLINE_TYPES.get(ext)
        if kind is None:
            return JSONResponse({"error": f"a .{ext} file is not shown inline"}, status_code=400)
        return await _blob(state, request, find, kind, {"Cache-Control": "max-age=3600"})

    return endpoint


async def _blob(
    state: UiState, request: Request, find: Any, media_type: str, headers: dict[str, str]
) -> Response:
    """Stream the blob ``find(path_params)`` names: 400 for a name outside the run's files
    (ValueError), 404 when the run has no such file."""
    from starlette.concurrency import run_in_threadpool

    try:
        key = await run_in_threadpool(find, request.path_params)
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    if key is None:
        return JSONResponse({"error": "no such file"}, status_code=404)
    try:
        fh = await run_in_threadpool(state.store.blobs.open, key)
    except FileNotFoundError:
        return JSONResponse({"error": "no such file"}, status_code=404)

    def chunks():
        with fh:
            while chunk := fh.read(_CHUNK):
                yield chunk

    return StreamingResponse(chunks(), media_type=media_type, headers=headers)
