"""``tracker.Table``: rows and columns, stored by the sidecar as parquet (column types kept)."""

from __future__ import annotations

from typing import Any

from tracker.media.base import Media, bad, need

_CELL_TYPES = frozenset((int, float, str, bool, type(None)))
_NOT_CELLS = ("table", "plot")  # a table (or chart) inside a table cell is refused


class Table(Media):
    """A table of rows to log; the sidecar writes it as a parquet file (§10).

    Args:
        columns: the column names (default ``["Column 1", ...]`` from the first row).
        data: rows, each a list of cell values (numbers, strings, bools, None, or media: an
            ``Image`` in a cell is encoded by the sidecar, the parquet cell holds its reference).
        dataframe: a pandas DataFrame (its column types are kept).
        rows: an alias of ``data`` (W&B's older name).
        allow_mixed_types: accepted for W&B compatibility (mixed columns are stored as text).

    Raises:
        ValueError: both ``data`` and ``dataframe``, or a row of the wrong length.

    Example:
        >>> table = tracker.Table(columns=["x", "y"], data=[[1, 2.0], [2, 3.5]])
        >>> table.add_data(3, 4.0)
        >>> run.log({"points": table})
    """

    _kind = "table"

    def __init__(
        self,
        columns: list[str] | None = None,
        data: list[list[Any]] | None = None,
        rows: list[list[Any]] | None = None,
        dataframe: Any = None,
        dtype: Any = None,
        optional: Any = True,
        allow_mixed_types: bool = False,
    ) -> None:
        data = data if data is not None else rows
        if data is not None and dataframe is not None:
            raise ValueError("Table takes data or dataframe, not both")
        self._df = None
        if dataframe is not None:
            self._df = dataframe
            self.columns = [str(c) for c in dataframe.columns]
            self.data: list[list[Any]] = []
            return
        # the rows themselves are shared, not copied (as W&B does); a row that needs a
        # cell converted is copied when it is logged
        self.data = [r if type(r) is list else list(r) for r in data] if data else []
        if columns is None:
            width = len(self.data[0]) if self.data else 0
            columns = [f"Column {i + 1}" for i in range(width)]
        self.columns = [str(c) for c in columns]

    # -- building --------------------------------------------------------------------------
    def _rows(self) -> list[list[Any]]:
        if self._df is not None:  # edits go through rows from now on
            self.data = self._df.astype(object).values.tolist()
            self._df = None
        return self.data

    def add_data(self, *data: Any) -> None:
        """Add one row.

        Raises:
            ValueError: the row does not have one value per column.
        """
        if len(data) != len(self.columns):
            raise ValueError(
                f"Table.add_data got {len(data)} values for {len(self.columns)} columns {self.columns}"
            )
        self._rows().append(list(data))

    def add_row(self, *data: Any) -> None:
        """An alias of :meth:`add_data`."""
        self.add_data(*data)

    def add_column(self, name: str, data: list[Any]) -> None:
        """Add a column of values, one per row.

        Raises:
            ValueError: the name is taken or the length does not match the rows.
        """
        rows = self._rows()
        if name in self.columns:
            raise ValueError(f"Table already has a column {name!r}")
        if rows and len(data) != len(rows):
            raise ValueError(f"Table.add_column {name!r}: {len(data)} values for {len(rows)} rows")
        if not rows:
            rows.extend([] for _ in data)
        for row, value in zip(rows, data, strict=True):
            row.append(value)
        self.columns.append(str(name))

    def get_column(self, name: str, convert_to: str | None = None) -> Any:
        """The values of column ``name`` (a numpy array with ``convert_to="numpy"``)."""
        if name not in self.columns:
            raise ValueError(f"Table has no column {name!r}; its columns are {self.columns}")
        if self._df is not None:
            values = self._df[name].tolist()
        else:
            i = self.columns.index(name)
            values = [row[i] for row in self.data]
        return need("numpy").array(values) if convert_to == "numpy" else values

    def get_dataframe(self) -> Any:
        """The table as a pandas DataFrame (needs pandas)."""
        pd = need("pandas", "pandas")
        if self._df is not None:
            return self._df.copy()
        return pd.DataFrame(self.data, columns=self.columns)

    def __len__(self) -> int:
        return len(self._df) if self._df is not None else len(self.data)

    # -- logging ---------------------------------------------------------------------------
    def to_log_value(self, key: str) -> dict[str, Any]:
        if self._df is not None:
            arrays = _df_columns(key, self._df)
            media = any(type(c) is list and _holds_media(c) for c in arrays)
            return {"_type": "table-raw", "columns": self.columns, "arrays": arrays, "media": media}
        width = len(self.columns)
        data = self.data
        # one pass each in C-speed comprehensions; the slow walk only when something is off
        if any(n != width for n in set(map(len, data))):
            i = next(i for i, row in enumerate(data) if len(row) != width)
            raise bad(key, "Table", f"row {i} has {len(data[i])} values for {width} columns")
        media = False
        if not {type(v) for row in data for v in row} <= _CELL_TYPES:
            # converted rows are new lists: the table keeps its own cells (Images stay Images)
            data = [
                row
                if all(type(v) in _CELL_TYPES for v in row)
                else [
                    v if type(v) in _CELL_TYPES else _cell(key, i, j, v) for j, v in enumerate(row)
                ]
                for i, row in enumerate(data)
            ]
            media = any(_holds_media(row) for row in data)
        return {"_type": "table-raw", "columns": self.columns, "rows": data, "media": media}


def _holds_media(cells: list) -> bool:
    return any(type(v) is dict for v in cells)


def _cell(key: str, i: int, j: int, value: Any) -> Any:
    """A cell that is not a plain scalar: numpy scalars become Python ones, media (an Image,
    a Video...) its raw cell for the sidecar to encode; others refused."""
    if isinstance(value, Media) and value._kind not in _NOT_CELLS:
        return value.to_log_value(key)
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 1) == 0:
        return item()
    if isinstance(value, (int, float, str)):
        return value
    raise bad(
        key,
        "Table",
        f"cell ({i}, {j}) is a {type(value).__name__}; cells must be numbers, strings, bools, "
        "None or media (Image, Video, Html, Object3D, Histogram)",
    )


def _df_columns(key: str, df: Any) -> list[Any]:
    """Numeric columns as bytes + dtype (one copy each), the others as lists (media cells
    as their raw cells)."""
    from tracker.media.base import raw_array

    out = []
    for name in df.columns:
        col = df[name]
        if col.dtype.kind in "uifb":
            out.append(raw_array("column", col.to_numpy()))
            continue
        values = [None if v != v else v for v in col.astype(object).tolist()]
        if any(isinstance(v, Media) for v in values):
            j = len(out)
            values = [
                _cell(key, i, j, v) if isinstance(v, Media) else v for i, v in enumerate(values)
            ]
        out.append(values)
    return out
