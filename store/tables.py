"""How the parquet parts of one stream combine into one table (§8), for readers and compaction.

A key that appears in a later part is a column from that part on: earlier rows read it as
null. A key logged with two types in two parts keeps the common type when pyarrow can promote
one to the other (int64 and double give double); otherwise it becomes a JSON column: text
holding each value as JSON (strings quoted), named in the schema's ``tracker.json_columns``
metadata, so that every value reads back with its own type (``1`` and ``"a"``). A value
logged as ``None`` is kept apart from a key the row did not log: the ``_tracker_nulls``
column lists, per row, the keys logged as ``None``. The read API and the compaction at finish
use the same rules, so a compacted file reads back exactly as its parts did.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

JSON_COLUMNS = b"tracker.json_columns"
NULLS = "_tracker_nulls"


def json_columns(schema: Any) -> set[str]:
    """The names of ``schema``'s JSON columns (see the module docstring)."""
    raw = (schema.metadata or {}).get(JSON_COLUMNS)
    return set(json.loads(raw)) if raw else set()


def with_json_columns(schema: Any, names: Iterable[str]) -> Any:
    """``schema`` naming ``names`` as its JSON columns (none: no metadata entry)."""
    names = sorted(names)
    metadata = {k: v for k, v in (schema.metadata or {}).items() if k != JSON_COLUMNS}
    if names:
        metadata[JSON_COLUMNS] = json.dumps(names).encode()
    return schema.with_metadata(metadata)


def json_array(values: list[Any]) -> Any:
    """A ``string`` array of each value as JSON text (nulls stay null)."""
    import pyarrow as pa

    return pa.array([None if v is None else json.dumps(v) for v in values], type=pa.string())


def plain_rows(table: Any) -> list[dict[str, Any]]:
    """Table rows as dicts as they were logged: JSON columns decoded, the nulls of keys a row
    did not log left out, keys logged as ``None`` kept."""
    encoded = json_columns(table.schema)
    rows = table.to_pylist()
    if not encoded and NULLS not in table.column_names:
        return [{k: v for k, v in row.items() if v is not None} for row in rows]
    out = []
    for row in rows:
        logged_none = row.pop(NULLS, None) or ()
        clean = {}
        for k, v in row.items():
            if v is not None:
                clean[k] = json.loads(v) if k in encoded else v
            elif k in logged_none:
                clean[k] = None
        out.append(clean)
    return out


def unify_schemas(schemas: Iterable[Any]) -> Any:
    """One schema holding every column of ``schemas``, in order of first appearance.

    Args:
        schemas: ``pyarrow.Schema`` of each part, in row order.

    Returns:
        The union as a ``pyarrow.Schema``: promoted types, or ``string`` where none fits both.
    """
    import pyarrow as pa

    types: dict[str, list[Any]] = {}
    encoded: set[str] = set()
    for schema in schemas:
        encoded |= json_columns(schema)
        for field in schema:
            found = types.setdefault(field.name, [])
            if field.type not in found:
                found.append(field.type)
    fields = []
    for name, found in types.items():
        if name in encoded:
            fields.append(pa.field(name, pa.string()))
            continue
        try:
            merged = pa.unify_schemas(
                [pa.schema([(name, t)]) for t in found], promote_options="permissive"
            )
            fields.append(merged.field(0))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            fields.append(pa.field(name, pa.string()))
            encoded.add(name)
    return with_json_columns(pa.schema(fields), encoded)


def conform(table: Any, schema: Any) -> Any:
    """``table`` with exactly the columns of ``schema``: cast where needed, nulls where absent."""
    import pyarrow as pa

    encode = json_columns(schema) - json_columns(table.schema)
    if table.schema.equals(schema) and not encode:
        return table.replace_schema_metadata(schema.metadata)
    # by position: name lookups on a table are linear, and runs log 10,000 keys
    index = {name: i for i, name in enumerate(table.column_names)}
    columns = []
    for field in schema:
        i = index.get(field.name)
        if i is not None:
            column = table.column(i)
            if field.name in encode:  # plain values joining a JSON column: as JSON text
                columns.append(json_array(column.to_pylist()))
            else:
                columns.append(column if column.type == field.type else column.cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def combine(tables: list[Any]) -> Any:
    """The rows of ``tables`` one after the other, under their unified schema."""
    import pyarrow as pa

    if not tables:
        return pa.table({"_step": pa.array([], type=pa.int64())})
    schema = unify_schemas(t.schema for t in tables)
    return pa.concat_tables([conform(t, schema) for t in tables])
