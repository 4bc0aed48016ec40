"""The package boundaries of ARCHITECTURE.md, checked on the source: the sidecar's stages never
import the SDK, the read API never imports the sidecar, the store imports neither."""

from __future__ import annotations

import ast
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# what the modules of each folder may import from the tracker tree
ALLOWED = {
    "proto": ("tracker.proto",),
    "store": ("tracker.store", "tracker.errors"),
    "service": ("tracker.service", "tracker.proto", "tracker.store", "tracker.errors"),
    # tracker.media: the value types (a leaf package) that Artifact.get gives back
    "sdk/api": ("tracker.api", "tracker.store", "tracker.proto", "tracker.client", "tracker.errors",
                "tracker.settings", "tracker.naming", "tracker.media"),
    "sdk/media": ("tracker.media",),
    # the UI reads like the read API: the store, plus the sidecar's live tail via tracker.client
    "ui": ("tracker.ui", "tracker.store", "tracker.api", "tracker.client", "tracker.errors"),
}  # fmt: skip
# process entries and the CLI are clients of the sidecar: they find it through tracker.client
ENTRIES = {"service/daemon.py", "service/cli.py"}


def _imports(path: str) -> list[str]:
    tree = ast.parse(open(path).read(), path)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return [n for n in names if n == "tracker" or n.startswith("tracker.")]


def _modules(folder: str) -> list[str]:
    out = []
    for dirpath, _, files in os.walk(os.path.join(REPO, folder)):
        out.extend(os.path.join(dirpath, f) for f in files if f.endswith(".py"))
    return sorted(out)


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_each_package_imports_only_what_its_layer_may(folder):
    wrong = []
    for path in _modules(folder):
        rel = os.path.relpath(path, REPO)
        if rel in ENTRIES:
            continue
        for name in _imports(path):
            if not name.startswith(ALLOWED[folder]):
                wrong.append(f"{rel} imports {name}")
    assert wrong == []
