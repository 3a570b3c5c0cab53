"""Taking rows of Arrow-backed columns without joining their chunks.

A column read from the cache store is one Arrow array of many chunks (one per stored
part). pyarrow's ``take`` on such a column first joins every chunk into one array: taking
a thousand sentences out of a corpus's sentence texts copied all of them (410 MB at 100k
articles), once per part of a table. :func:`array_take` takes from each chunk what it
holds; the result is the same column of values. :class:`ColumnTaker` serves many takes
from one column; :func:`sorted_unique` is the distinct values of an array by one sort.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

if TYPE_CHECKING:
    import pyarrow as pa


def _chunked(values: pd.Series) -> pa.ChunkedArray | None:
    """The Arrow chunks behind ``values`` when it is Arrow-backed with more than one chunk, else None."""
    dtype = values.dtype
    arrow = isinstance(dtype, pd.ArrowDtype) or (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow")
    if not arrow:
        return None
    import pyarrow as pa

    data = pa.array(values)  # the column's own Arrow data, not a copy
    return data if isinstance(data, pa.ChunkedArray) and data.num_chunks > 1 else None


def array_take(values: pd.Series, rows: np.ndarray) -> ExtensionArray:
    """``values.take(rows).array``: the values at positions ``rows`` (non-negative), taken chunk by chunk.

    >>> s = pd.Series(["a", "b", "c"], dtype="str")
    >>> list(array_take(s, np.array([2, 0])))
    ['c', 'a']
    """
    rows = np.asarray(rows, dtype=np.int64)
    data = _chunked(values)
    if data is None or not len(rows):
        return values.take(rows).array
    import pyarrow as pa

    chunks = data.chunks
    offsets = np.cumsum([0, *(len(c) for c in chunks)])
    which = np.searchsorted(offsets, rows, side="right") - 1
    in_order = bool((np.diff(which) >= 0).all())
    order = np.arange(len(rows)) if in_order else np.argsort(which, kind="stable")
    bounds = np.searchsorted(which[order], np.arange(len(chunks) + 1))
    pieces = [
        chunks[k].take(pa.array(rows[order[bounds[k] : bounds[k + 1]]] - offsets[k]))
        for k in range(len(chunks))
        if bounds[k + 1] > bounds[k]
    ]
    taken = pa.concat_arrays(pieces)
    if not in_order:  # back to the order asked for: one take from an array of len(rows) values
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        taken = taken.take(pa.array(inverse))
    out = pa.chunked_array([taken])
    if isinstance(values.dtype, pd.StringDtype):
        return pd.arrays.ArrowStringArray(out, dtype=values.dtype)
    return pd.arrays.ArrowExtensionArray(out)


class ColumnTaker:
    """Many takes of rows from one column, prepared once: ``taker(rows)`` is ``array_take(values, rows)``.

    :func:`array_take` makes one take per stored chunk it draws from, so a table made in
    parts that each draw from every chunk made parts x chunks takes (the trajectory
    evidence at 100k articles: 52,000 takes, 4.7 s). A string column of many chunks is
    coded once instead (``code=True`` codes any column): an int32 code per row and its
    distinct values, so a take is a numpy take of codes and one take of the distinct
    values. Same values and dtype (tested). :meth:`mapped` makes a column of a function
    of the values (a title per ``doc_id``) with the same codes, computing it once per
    distinct value.
    """

    def __init__(self, values: pd.Series, code: bool | None = None) -> None:
        self.values = values
        self.codes: np.ndarray | None = None
        self.uniques: ExtensionArray | None = None
        if code is None:
            code = isinstance(values.dtype, pd.StringDtype) and _chunked(values) is not None
        if code:
            # missing values are coded too, so every code takes a value (no -1)
            codes, self.uniques = pd.factorize(values.array, use_na_sentinel=False)
            self.codes = codes.astype(np.int32) if len(self.uniques) <= np.iinfo(np.int32).max else codes

    def __call__(self, rows: np.ndarray) -> ExtensionArray:
        """The values at positions ``rows`` (non-negative)."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.codes is None or self.uniques is None:
            return array_take(self.values, rows)
        return self.uniques.take(self.codes[rows])

    def mapped(self, fn: Callable[[pd.Series], pd.Series]) -> ColumnTaker:
        """A taker of ``fn(values)`` (an elementwise function of a Series) with these codes."""
        if self.codes is None or self.uniques is None:
            raise ValueError("mapped() needs a coded column (ColumnTaker(values, code=True))")
        out = ColumnTaker.__new__(ColumnTaker)
        out.uniques = fn(pd.Series(self.uniques)).array
        out.codes = self.codes
        out.values = pd.Series(out.uniques).iloc[:0]
        return out


def sorted_unique(keys: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values, sorted, and how often each occurs, or the sum of its ``weights``.

    One sort. ``np.unique`` (NumPy 2.4) hashes first: 12 s for 6 million integer keys where this
    takes 0.4 s, the same values (tested).
    """
    if weights is None:
        keys = np.sort(keys)
    else:
        order = np.argsort(keys)
        keys, weights = keys[order], weights[order]
    first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.zeros(0, dtype=np.int64)
    if weights is None:
        return keys[first], np.diff(np.r_[first, len(keys)])
    return keys[first], np.add.reduceat(weights, first) if len(keys) else weights


STR = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' default "str" dtype


def str_array(values: pa.Array | pa.ChunkedArray) -> ExtensionArray:
    """An Arrow string array as a pandas ``str`` column, without converting the values to Python strings.

    >>> import pyarrow as pa
    >>> pd.Series(str_array(pa.array(["a", "b"], type=pa.large_string()))).tolist()
    ['a', 'b']
    """
    import pyarrow as pa

    chunked = values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([values])
    if chunked.type != pa.large_string():  # pandas' own str columns are large_string
        chunked = chunked.cast(pa.large_string())
    return pd.arrays.ArrowStringArray(chunked, dtype=STR)


def frame_take(df: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """``df.iloc[rows]`` with a fresh RangeIndex, Arrow-backed columns taken chunk by chunk (:func:`array_take`)."""
    rows = np.asarray(rows, dtype=np.int64)
    out = pd.DataFrame({name: array_take(df[name], rows) for name in df.columns}, copy=False)
    out.attrs = dict(df.attrs)
    return out
