"""How the parquet parts of one stream combine into one table (§8), for readers and compaction.

A key that appears in a later part is a column from that part on: earlier rows read it as
null. A key logged with two types in two parts keeps the common type when pyarrow can promote
one to the other (int64 and double give double) and becomes text (``string``) otherwise, so
that no value is lost. The read API and the compaction at finish use the same rules, so a
compacted file reads back exactly as its parts did.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def unify_schemas(schemas: Iterable[Any]) -> Any:
    """One schema holding every column of ``schemas``, in order of first appearance.

    Args:
        schemas: ``pyarrow.Schema`` of each part, in row order.

    Returns:
        The union as a ``pyarrow.Schema``: promoted types, or ``string`` where none fits both.
    """
    import pyarrow as pa

    types: dict[str, list[Any]] = {}
    for schema in schemas:
        for field in schema:
            found = types.setdefault(field.name, [])
            if field.type not in found:
                found.append(field.type)
    fields = []
    for name, found in types.items():
        try:
            merged = pa.unify_schemas(
                [pa.schema([(name, t)]) for t in found], promote_options="permissive"
            )
            fields.append(merged.field(0))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            fields.append(pa.field(name, pa.string()))
    return pa.schema(fields)


def conform(table: Any, schema: Any) -> Any:
    """``table`` with exactly the columns of ``schema``: cast where needed, nulls where absent."""
    import pyarrow as pa

    if table.schema.equals(schema):
        return table
    # by position: name lookups on a table are linear, and runs log 10,000 keys
    index = {name: i for i, name in enumerate(table.column_names)}
    columns = []
    for field in schema:
        i = index.get(field.name)
        if i is not None:
            column = table.column(i)
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
