"""The column-wise CSV paths write the same bytes, and read back the same table, as the
DataFrame paths they replaced (kept here as the reference)."""

from __future__ import annotations

import csv
import random
import warnings

import pandas as pd
import pytest

from autoenhance_nb import AutoenhanceClient, OrderTracker
from autoenhance_nb.tracker import table as T
from autoenhance_nb.tracker.table import _csv as TC
from autoenhance_nb.tracker.table import _rows as TR

NS = 1_700_000_000_123_456_789


# -- the replaced implementations (commit 82ef521), verbatim in substance ---------------------
def old_write_csv(frame: pd.DataFrame, path, escape_formulas: bool = True) -> None:
    frame = frame.copy(deep=False)
    for col in T.STRING_COLUMNS:
        s = frame[col]
        if escape_formulas:
            mask = s.str.startswith(T.FORMULA_PREFIXES).fillna(False)
            if mask.any():
                s = s.where(~mask, "'" + s)
        frame[col] = s
    bad = []
    for col in T.STRING_COLUMNS:
        mask = frame[col].str.contains(TC._SURROGATE, regex=True).fillna(False)
        if mask.any():
            bad.extend(str(x) for x in frame.loc[mask, "order_id"])
    if bad:
        for col in T.STRING_COLUMNS:
            frame[col] = frame[col].str.replace(TC._SURROGATE, TC._escape_surrogate, regex=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        frame.to_csv(
            fh,
            index=False,
            date_format=T.CSV_DATE_FORMAT,
            lineterminator="\r\n",
            quoting=csv.QUOTE_MINIMAL,
        )


def old_read_orders_csv(path, escape_formulas: bool = True) -> pd.DataFrame:
    frame = pd.read_csv(
        path,
        dtype={c: "string" for c in T.STRING_COLUMNS},
        keep_default_na=False,
        na_values={"image_count": [""], "created_at": [""], "last_updated_at": [""]},
        encoding="utf-8",
    )[T.COLUMNS]
    if escape_formulas:
        for col in T.STRING_COLUMNS:
            s = frame[col]
            mask = s.str.startswith("'") & (s.str.len() > 1)
            if mask.any():
                frame[col] = s.where(~mask, s.str.slice(1))
    pattern = r"\\u(d[89a-f][0-9a-f]{2})"
    for col in T.STRING_COLUMNS:
        s = frame[col]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = s.str.contains(pattern, regex=True, case=False).fillna(False).any()
        if found:
            frame[col] = s.str.replace(pattern, TC._unescape_surrogate, regex=True, case=False)
    frame["image_count"] = frame["image_count"].astype("Int64")
    for col in T.TIME_COLUMNS:
        frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601").astype(T.DTYPES[col])
    return frame.astype({c: T.DTYPES[c] for c in T.STRING_COLUMNS})


PIECES = [
    "=SUM(A1)",
    "+1",
    "-2",
    "@cmd",
    "\tTab",
    "\rCR",
    "'quoted",
    "'",
    "",
    'say "hi"',
    "a,b",
    "line\r\nbreak",
    "new\nline",
    "Rue Oberkampf – 12",
    "emoji 🏠",
    "half \ud83d",
    "\udc80lone",
    "C:\\files",
    "  spaces  ",
    "#hash",
    "x\x00y",
]


def hostile_columns(
    n: int,
    seed: int = 11,
    surrogates: bool = True,
    readable: bool = False,
    backslashes: bool = True,
) -> list[list]:
    rng = random.Random(seed)
    pieces = [p for p in PIECES if surrogates or not any("\ud800" <= c <= "\udfff" for c in p)]
    pieces = [p for p in pieces if "\x00" not in p]  # pandas' C reader stops at NUL
    if not backslashes:  # a cell with a surrogate and a backslash is now escaped whole
        pieces = [p for p in pieces if "\\" not in p]
    times = [None, 0, -1, -1_000_000_001, NS, NS + 999, TR._MAX_NS, 86_399_999_999_999]
    if not readable:  # written as a microsecond before the first nanosecond pandas holds
        times.append(TR._MIN_NS + 1)
    cols: list[list] = [[] for _ in T.COLUMNS]
    for i in range(n):
        row = [
            f"id-{i}" if rng.random() < 0.8 else f"{rng.choice(pieces)}-{i}",
            rng.choice(pieces) + rng.choice(["", " tail", rng.choice(pieces)]),
            rng.choice([None, 0, 7, 2**40]),
            rng.choice(["waiting", "processing", "=bad", "'x"]),
            rng.choice(times),
            rng.choice(times),
            rng.choice(["python", "magic", "@form", "-csv"]),
        ]
        for col, v in zip(cols, row, strict=True):
            col.append(v)
    return cols


@pytest.mark.parametrize("escape", [True, False])
def test_write_columns_gives_the_old_bytes_for_10k_hostile_rows(tmp_path, escape):
    # the old bytes, except where the old format was wrong (f689162: a cell with a lone
    # surrogate and a backslash is now escaped whole, so that reading it back is exact)
    cols = hostile_columns(10_000, backslashes=False)
    frame = T.frame_of(cols)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        new = T.write_columns(cols, tmp_path / "new.csv", escape_formulas=escape)
    old_write_csv(frame, tmp_path / "old.csv", escape_formulas=escape)
    assert new.read_bytes() == (tmp_path / "old.csv").read_bytes()
    assert any("lone surrogates" in str(w.message) for w in caught)
    via_frame = T.write_csv(frame, tmp_path / "frame.csv", escape_formulas=escape)
    assert via_frame.read_bytes() == new.read_bytes()


def test_the_surrogate_warning_counts_and_names_as_before(tmp_path):
    cols = hostile_columns(2_000, seed=5)
    with pytest.warns(UserWarning) as caught:
        T.write_columns(cols, tmp_path / "n.csv")
    frame = T.frame_of(cols)
    escaped = frame["order_id"].where(
        ~frame["order_id"].str.startswith(T.FORMULA_PREFIXES), "'" + frame["order_id"]
    )
    bad = []
    for col in T.STRING_COLUMNS:
        s = frame[col]
        s = s.where(~s.str.startswith(T.FORMULA_PREFIXES), "'" + s)
        bad.extend(escaped[s.str.contains(TC._SURROGATE, regex=True)])
    message = str(caught[0].message)
    assert message.startswith(f"{len(bad)} orders (e.g. {TC.one_line(bad[0])!r})")


@pytest.mark.parametrize("escape", [True, False])
def test_read_gives_the_old_frame_for_10k_hostile_rows(tmp_path, escape):
    cols = hostile_columns(10_000, seed=12, surrogates=False, readable=True)
    path = T.write_columns(cols, tmp_path / "o.csv", escape_formulas=escape)
    new = T.read_orders_csv(path, escape_formulas=escape)
    old = old_read_orders_csv(path, escape_formulas=escape)
    pd.testing.assert_frame_equal(new, old)
    tracker = OrderTracker(AutoenhanceClient(api_key="k", base_url="http://127.0.0.1:9"))
    pd.testing.assert_frame_equal(tracker.read_csv(path, escape_formulas=escape), old)
    tracker.check()


def test_round_trip_with_surrogates_and_source(tmp_path):
    cols = hostile_columns(3_000, seed=13, readable=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = T.write_columns(cols, tmp_path / "o.csv")
    tracker = OrderTracker(AutoenhanceClient(api_key="k", base_url="http://127.0.0.1:9"))
    back = tracker.read_csv(path, source="csv")
    # what was written, to the microsecond (the CSV's precision), from the source "csv"
    expected = [list(c) for c in cols]
    for c in (T.CREATED, T.UPDATED):
        expected[c] = [None if v is None else v // 1000 * 1000 for v in expected[c]]
    expected[T.SOURCE] = ["csv"] * len(expected[T.ID])
    # rows are keyed by order_id: a repeated id keeps its first row's place, last values
    store = T.OrderStore()
    for row in T.iter_rows(expected):
        store.upsert(row)
    pd.testing.assert_frame_equal(back, T.frame_of(store.columns()))
    tracker.check()
