"""Taking rows of Arrow-backed columns chunk by chunk (frames.array_take, frames.ColumnTaker): the values of a plain take, no join."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mali_partners.frames import ColumnTaker, array_take, frame_take

ROOT = Path(__file__).resolve().parent.parent


def chunked_str(chunks: list[list[str | None]]) -> pd.Series:
    data = pa.chunked_array([pa.array(c, type=pa.large_string()) for c in chunks])
    return pd.Series(pd.arrays.ArrowStringArray(data, dtype=pd.StringDtype("pyarrow", na_value=np.nan)))


@pytest.mark.parametrize("rows", [[0, 1, 2, 3, 4, 5], [5, 0, 3, 3, 1], [4], [2, 2, 2], []])
def test_array_take_is_a_plain_take(rows):
    s = chunked_str([["a", "b"], [], ["c", None, "d"], ["e"]])
    assert pa.array(s).num_chunks == 4
    got = array_take(s, np.array(rows, dtype=np.int64))
    want = s.take(rows).array
    assert got.dtype == s.dtype == want.dtype
    assert list(pd.Series(got).fillna("<na>")) == list(pd.Series(want).fillna("<na>"))
    # by hand: the values at those positions of ["a", "b", "c", None, "d", "e"]
    by_hand = ["a", "b", "c", "<na>", "d", "e"]
    assert list(pd.Series(got).fillna("<na>")) == [by_hand[i] for i in rows]


def test_array_take_joins_no_chunks():
    """A few rows of a large chunked column: Arrow's peak allocation hardly moves (a plain take joins the
    20 MB of chunks first). Measured in a fresh interpreter, whose pool has no earlier peak."""
    code = """
import numpy as np, pyarrow as pa
from tests.test_frames import chunked_str
from mali_partners.frames import array_take
big = chunked_str([["x" * 1000] * 2000 for _ in range(10)])
before = pa.default_memory_pool().max_memory()
got = array_take(big, np.array([19_999, 5, 10_000]))
assert list(got) == ["x" * 1000] * 3
mine = pa.default_memory_pool().max_memory() - before
big.take([19_999, 5, 10_000])
plain = pa.default_memory_pool().max_memory() - before
print(mine, plain)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    mine, plain = map(int, out.stdout.split())
    assert mine < 1_000_000 and plain > 10_000_000  # nonvacuous: the plain take does join the chunks


def test_array_take_of_numpy_and_arrow_extension_columns():
    ints = pd.Series([10, 20, 30])
    assert list(array_take(ints, np.array([2, 0]))) == [30, 10]
    ext = pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([[1, 2], [3]])))
    got = array_take(ext, np.array([2, 0]))
    assert got.dtype == ext.dtype and list(got) == [3, 1]


def test_frame_take_is_iloc_with_a_fresh_index():
    df = pd.DataFrame({"s": chunked_str([["a", "b"], ["c"]]), "n": [1, 2, 3]}, index=[7, 8, 9])
    df.attrs = {"k": 1}
    got = frame_take(df, np.array([2, 0]))
    pd.testing.assert_frame_equal(got, df.iloc[[2, 0]].reset_index(drop=True))
    assert got.attrs == {"k": 1}


@pytest.mark.parametrize("rows", [[0, 1, 2, 3, 4, 5], [5, 0, 3, 3, 1], [4], [2, 2, 2], []])
def test_column_taker_codes_a_chunked_string_column(rows):
    s = chunked_str([["a", "b"], [], ["c", None, "a"], ["b"]])
    taker = ColumnTaker(s)
    assert taker.codes is not None  # coded: a chunked string column
    got = taker(np.array(rows, dtype=np.int64))
    want = array_take(s, np.array(rows, dtype=np.int64))
    assert got.dtype == want.dtype == s.dtype
    by_hand = ["a", "b", "c", "<na>", "a", "b"]
    assert list(pd.Series(got).fillna("<na>")) == [by_hand[i] for i in rows]
    pd.testing.assert_series_equal(pd.Series(got), pd.Series(want))


def test_column_taker_uncoded_columns_take_as_array_take():
    ints = pd.Series([10, 20, 30])
    taker = ColumnTaker(ints)
    assert taker.codes is None
    assert list(taker(np.array([2, 0]))) == [30, 10]
    one_chunk = pd.Series(["x", "y"], dtype="str")
    assert ColumnTaker(one_chunk).codes is None and list(ColumnTaker(one_chunk)(np.array([1]))) == ["y"]


def test_column_taker_mapped_is_the_elementwise_map_taken():
    """mapped() computes a function once per distinct value; taking from it equals mapping the taken rows."""
    rng = np.random.default_rng(3)
    words = ["d1", "d2", "d3", None]
    s = chunked_str([[words[i] for i in rng.integers(0, 4, n)] for n in (5, 0, 9, 7)])
    titles = pd.Series({"d1": "Title one", "d2": "Title two", "d3": "Title three"})
    title = ColumnTaker(s, code=True).mapped(lambda v: v.map(titles))
    for _ in range(20):
        rows = rng.integers(0, len(s), rng.integers(0, 30))
        want = s.take(rows).map(titles)
        pd.testing.assert_series_equal(pd.Series(title(rows)), want.reset_index(drop=True))
    dates = pd.Series(pd.to_datetime(["2020-01-02", None, "2021-05-06", "2020-01-02"]).astype("datetime64[s]"))
    year = ColumnTaker(dates, code=True).mapped(lambda v: v.dt.strftime("%Y").astype(str))  # NaT coded too
    want = dates.iloc[[3, 1, 2]].dt.strftime("%Y").astype(str).reset_index(drop=True)
    pd.testing.assert_series_equal(pd.Series(year(np.array([3, 1, 2]))), want)
    assert want[0] == "2020" and want.isna()[1] and want[2] == "2021"
    with pytest.raises(ValueError, match="coded column"):
        ColumnTaker(pd.Series([1, 2])).mapped(lambda v: v)


def test_sorted_unique_is_np_unique_with_counts_and_sums():
    from mali_partners.frames import sorted_unique

    rng = np.random.default_rng(11)
    for n, high in ((0, 5), (1, 5), (200, 7), (5000, 10**9)):
        keys = rng.integers(0, high, n)
        want_keys, want_counts = np.unique(keys, return_counts=True)
        got_keys, got_counts = sorted_unique(keys)
        assert list(got_keys) == list(want_keys) and list(got_counts) == list(want_counts)
        weights = rng.integers(-3, 4, n)
        got_keys, got_sums = sorted_unique(keys, weights)
        assert list(got_keys) == list(want_keys)
        assert list(got_sums) == [int(weights[keys == k].sum()) for k in want_keys]
    assert [list(a) for a in sorted_unique(np.array([3, 1, 3, 3]))] == [[1, 3], [1, 3]]  # by hand
