"""Objects kept in an artifact (§12): ``Artifact.add(obj, name)`` turns one into a file of the
version, ``Artifact.get(name)`` turns that file back into the object.

- a ``tracker.Table``: ``<name>.table.parquet``, as a logged table is stored (§10): column
  types kept; a column of mixed types is JSON text named in the schema's metadata
  (:mod:`tracker.store.tables`), so every cell reads back with its own type. W&B writes
  ``<name>.table.json``; the name ``get`` takes is the same.
- a ``tracker.Image``: ``<name>.image.png`` (or the file's own bytes and extension when the
  image was made from a path);
- a dict, a list, or an object with ``to_json()``: ``<name>.json``.

The file is written in the caller's process when ``add`` is called, as W&B does: the object
may change afterwards, and the sidecar only sees files. pyarrow and pillow are imported here
only, when a table or an image is added or read.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

from tracker.errors import ArgumentError

TABLE_SUFFIX = ".table.parquet"
IMAGE_SUFFIX = ".image."


def encode(obj: Any, name: str) -> tuple[str, bytes]:
    """The entry name and the bytes that store ``obj`` under ``name``.

    Raises:
        ArgumentError: a media type that artifacts do not keep, or an object that is not
            JSON (a ``ValueError`` too).
        ValueError: a table or image that could not be logged either (a bad row, pixels).
    """
    to_cell = getattr(obj, "to_log_value", None)
    if callable(to_cell):
        cell = to_cell(name)
        kind = cell.get("_type")
        if kind == "table-raw":
            return name + TABLE_SUFFIX, _table_bytes(cell)
        if kind == "image-raw":
            if "encoded" in cell:  # made from a file: its bytes, as they are
                return f"{name}{IMAGE_SUFFIX}{cell.get('format') or 'png'}", cell["encoded"]
            out = io.BytesIO()
            obj.image.save(out, format="PNG")
            return f"{name}{IMAGE_SUFFIX}png", out.getvalue()
        raise ArgumentError(
            f"add({name!r}): a {type(obj).__name__} cannot be kept in an artifact "
            "(tables, images, and JSON-able objects can)"
        )
    data = obj.to_json() if hasattr(obj, "to_json") else obj
    try:
        text = json.dumps(data)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(
            f"add({name!r}): cannot store {type(obj).__name__} as JSON: {exc}"
        ) from None
    return (name if name.endswith(".json") else f"{name}.json"), text.encode()


def entry_for(paths: list[str], name: str) -> str | None:
    """The entry that ``get(name)`` reads: ``name`` itself, or the file ``add`` made of it."""
    for path in (name, name + TABLE_SUFFIX, f"{name}.json"):
        if path in paths:
            return path
    images = [p for p in paths if p.startswith(name + IMAGE_SUFFIX)]
    return images[0] if images else None


def decode(path: str, entry: str) -> Any:
    """The object stored in the local file ``path`` (the artifact's ``entry``)."""
    if entry.endswith(TABLE_SUFFIX):
        return _read_table(path)
    if IMAGE_SUFFIX in os.path.basename(entry):
        from tracker.media.image import Image

        return Image(path)
    with open(path) as fh:
        return json.load(fh)


def _table_bytes(cell: dict[str, Any]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tracker.store.tables import json_array, with_json_columns

    names = cell["columns"]
    if "rows" in cell:
        columns = [[row[i] for row in cell["rows"]] for i in range(len(names))]
    else:  # from a DataFrame: numeric columns come as bytes + dtype
        columns = [_numeric(c) if isinstance(c, dict) else c for c in cell["arrays"]]
    arrays, as_json = [], []
    for column, values in zip(names, columns, strict=True):
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            arrays.append(json_array(list(values)))  # mixed types: each cell as JSON
            as_json.append(column)
    table = pa.table(dict(zip(names, arrays, strict=True)))
    table = table.replace_schema_metadata(with_json_columns(table.schema, as_json).metadata)
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd")
    return out.getvalue()


def _numeric(cell: dict[str, Any]) -> Any:
    import numpy as np
    from tracker.media.base import raw_bytes  # a large column's bytes are a Blob

    return np.frombuffer(raw_bytes(cell), dtype=np.dtype(cell["dtype"])).reshape(cell["shape"])


def _read_table(path: str) -> Any:
    import pyarrow.parquet as pq
    from tracker.media.table import Table
    from tracker.store.tables import json_columns

    table = pq.read_table(path)
    encoded = json_columns(table.schema)
    columns = []
    for name in table.column_names:
        values = table.column(name).to_pylist()
        if name in encoded:
            values = [None if v is None else json.loads(v) for v in values]
        columns.append(values)
    return Table(columns=table.column_names, data=[list(row) for row in zip(*columns, strict=True)])
