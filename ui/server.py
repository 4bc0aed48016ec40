"""Run the UI under uvicorn and say where it serves (``tracker-service ui``)."""

from __future__ import annotations

import json
import os
import sys

from tracker.client.runtime import ui_info_path
from tracker.store import parse_store_uri

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(
    store_uri: str,
    store_root: str,
    host: str = "127.0.0.1",
    port: int = 8080,
    s3_defaults: dict[str, str] | None = None,
) -> None:
    """Serve the UI over ``store_uri`` until interrupted.

    While it serves, a small file in the runtime directory names its URL, so that
    ``tracker.init`` on this host prints the run's page only when a UI serves the store.

    Args:
        store_uri: the store (any served backend).
        store_root: the local folder that names the store for this host (the marker's key).
        host: the address to bind; anything but loopback is warned about (the UI has no login).
        port: the TCP port (0: any free one).
        s3_defaults: S3 options a shared store's URI does not name (the AWS variables').

    Raises:
        tracker.Error: a store URI whose scheme is not served.
    """
    import socket

    import uvicorn
    from tracker.ui.app import create_app

    if host not in LOOPBACK:
        print(
            f"warning: the UI binds {host}: anyone who can reach this address reads every run "
            "in the store (there is no login). Use --host 127.0.0.1 to keep it local.",
            file=sys.stderr,
        )
    app = create_app(store_uri, s3_defaults)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)  # connections wait in the backlog from now on, before uvicorn serves
    port = sock.getsockname()[1]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{f'[{shown}]' if ':' in shown else shown}:{port}"
    shown_store = parse_store_uri(store_uri).display  # no password or secret key on screen
    marker = ui_info_path(store_root)
    with open(marker, "w") as fh:
        json.dump({"pid": os.getpid(), "url": url, "store": shown_store}, fh)
    print(f"tracker UI: {url}  (store {shown_store}; Ctrl-C stops it)", file=sys.stderr, flush=True)
    try:
        config = uvicorn.Config(app, log_level="warning", access_log=False)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        try:
            os.unlink(marker)
        except OSError:
            pass
