"""table.py: the column store's invariants under any sequence of changes, Ctrl-C held
back by interrupts_deferred (real signals), status derivation, timestamps, and the CSV
round trip."""

from __future__ import annotations

import os
import signal
import threading
import time
import warnings

import pandas as pd
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from autoenhance_nb.tracker import table as T

STATUSES = ["waiting", "processing", "processed", "error", "deleted"]
NS = 1_700_000_000_123_456_000  # 2023-11-14T22:13:20.123456Z


def row(oid, name="", count=None, status="waiting", created=NS, updated=None, source="python"):
    return [oid, name, count, status, created, updated, source]


def store_of(*rows):
    store = T.OrderStore()
    for r in rows:
        store.upsert(r)
    return store


# -- the column store ----------------------------------------------------------------------
ids = st.sampled_from([f"o{i}" for i in range(8)])
statuses = st.sampled_from(STATUSES)
stamps = st.one_of(st.none(), st.integers(0, 2**62))


class StoreMachine(RuleBasedStateMachine):
    """Every change keeps check()'s invariants, and the store equals a plain model:
    an ordered list of rows."""

    def __init__(self):
        super().__init__()
        self.store = T.OrderStore()
        self.model: list[list] = []

    def _find(self, oid):
        return next((r for r in self.model if r[T.ID] == oid), None)

    @rule(
        oid=ids,
        name=st.text(max_size=3),
        status=statuses,
        created=stamps,
        source=st.text(max_size=2),
    )
    def upsert(self, oid, name, status, created, source):
        new = row(oid, name, 1, status, created, None, source)
        self.store.upsert(new)
        old = self._find(oid)
        if old is None:
            self.model.append(list(new))
        else:
            for c, value in enumerate(new):
                if c == T.SOURCE or (c == T.CREATED and value is None):
                    continue
                old[c] = value

    @rule(n=st.integers(0, 3), status=statuses, data=st.data())
    def extend(self, n, status, data):
        fresh = [f"x{len(self.model) + i}" for i in range(n)]
        rows = [row(oid, status=data.draw(statuses)) for oid in fresh]
        self.store.extend([list(col) for col in zip(*rows, strict=True)] or [[] for _ in T.COLUMNS])
        self.model.extend(rows)

    @rule(oid=ids, status=statuses)
    def set_status(self, oid, status):
        self.store.set_status(oid, status)
        old = self._find(oid)
        if old is not None:
            old[T.STATUS] = status

    @precondition(lambda self: len(self.model) >= 2)
    @rule(data=st.data())
    def reorder_tail_exact(self, data):
        n = data.draw(st.integers(2, len(self.model)))
        tail = [r[T.ID] for r in self.model[-n:]]
        order = data.draw(st.permutations(tail))
        self.store.reorder_tail(list(order))
        by_id = {r[T.ID]: r for r in self.model[-n:]}
        self.model[-n:] = [by_id[oid] for oid in order]

    @precondition(lambda self: len(self.model) >= 3)
    @rule()
    def reorder_tail_of_other_orders_does_nothing(self):
        # the first order and the last one: not exactly the last two rows
        self.store.reorder_tail([self.model[-1][T.ID], self.model[0][T.ID]])

    @invariant()
    def invariants_hold_and_match_the_model(self):
        self.store.check()
        assert len(self.store) == len(self.model)
        assert [list(r) for r in zip(*self.store.columns(), strict=True)] == self.model
        for r in self.model:
            assert self.store.get(r[T.ID]) == r
        counts: dict[str, int] = {}
        for r in self.model:
            counts[r[T.STATUS]] = counts.get(r[T.STATUS], 0) + 1
        assert self.store.counts == counts


TestStoreMachine = StoreMachine.TestCase
TestStoreMachine.settings = settings(
    derandomize=True,
    max_examples=60,
    stateful_step_count=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_upsert_keeps_the_first_source_and_a_known_creation_time():
    store = store_of(row("a", "first", source="form"))
    store.upsert(row("a", "renamed", 2, "processed", None, NS + 1, "sync"))
    assert store.get("a") == ["a", "renamed", 2, "processed", NS, NS + 1, "form"]
    store.upsert(row("a", created=NS + 5))
    assert store.get("a")[T.CREATED] == NS + 5
    store.check()


def test_set_status_of_an_unknown_order_changes_nothing():
    store = store_of(row("a"))
    store.set_status("nope", "error")
    assert store.counts == {"waiting": 1} and store.get("nope") is None
    store.check()


def test_reorder_tail_puts_the_last_rows_in_the_given_order():
    store = store_of(row("a"), row("b"), row("c"), row("d"))
    store.reorder_tail(["d", "b", "c"])
    assert store.columns()[T.ID] == ["a", "d", "b", "c"]
    assert store.index == {"a": 0, "d": 1, "b": 2, "c": 3}
    store.reorder_tail(["a", "b"])  # not the last two: ignored
    assert store.columns()[T.ID] == ["a", "d", "b", "c"]
    store.check()


def test_columns_last_gives_the_latest_rows():
    store = store_of(*(row(f"o{i}") for i in range(5)))
    assert store.columns(last=2)[T.ID] == ["o3", "o4"]
    assert store.columns(last=0) == [[] for _ in T.COLUMNS]
    assert store.columns(last=99)[T.ID] == [f"o{i}" for i in range(5)]


def test_check_catches_a_broken_store():
    store = store_of(row("a"), row("b"))
    store.counts["waiting"] = 5
    with pytest.raises(AssertionError, match="status counts wrong"):
        store.check()
    store = store_of(row("a"))
    store.cols[T.NAME].append("extra")
    with pytest.raises(AssertionError, match="different lengths"):
        store.check()


# -- interrupts_deferred, with real SIGINTs --------------------------------------------------
@pytest.mark.parametrize(
    "send",
    [
        lambda: signal.raise_signal(signal.SIGINT),
        lambda: os.kill(os.getpid(), signal.SIGINT),
    ],
    ids=["raise_signal", "os.kill"],
)
def test_a_sigint_inside_the_block_is_raised_right_after_it(send):
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with T.interrupts_deferred():
            steps.append("before")
            send()
            time.sleep(0.05)  # the handler runs here, and the sleep is resumed
            steps.append("after")
        steps.append("not reached")
    assert steps == ["before", "after"]


def test_the_trackers_lock_holds_a_stop_back_until_it_is_released(client):
    from autoenhance_nb import OrderTracker

    lock = OrderTracker(client)._core.lock
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with lock:
            with lock:  # reentrant, as before
                steps.append("held")
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)  # a plain RLock: the stop lands here, with the lock held
                steps.append("after")
    assert steps == ["held", "after"]
    taken = []

    def worker():
        with lock:
            taken.append(True)

    other = threading.Thread(target=worker, daemon=True)
    other.start()
    other.join(5)
    assert taken == [True]  # free for the workers (was held forever once: a batch hung)


def test_the_sigint_handler_is_restored_after_the_block():
    before = signal.getsignal(signal.SIGINT)
    with T.interrupts_deferred():
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before
    with pytest.raises(KeyboardInterrupt):
        with T.interrupts_deferred():
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_a_block_without_sigint_raises_nothing_and_keeps_its_own_errors():
    with T.interrupts_deferred():
        done = True
    assert done
    with pytest.raises(ZeroDivisionError):
        with T.interrupts_deferred():
            1 / 0  # noqa: B018


def test_a_custom_previous_handler_is_called_after_the_block():
    class Stop(Exception):
        pass

    calls = []

    def handler(signum, frame):
        calls.append(signum)
        raise Stop

    previous = signal.signal(signal.SIGINT, handler)
    try:
        with pytest.raises(Stop):
            with T.interrupts_deferred():
                signal.raise_signal(signal.SIGINT)
                assert calls == [], "held back while the block runs"
        assert calls == [signal.SIGINT]
    finally:
        signal.signal(signal.SIGINT, previous)


def test_an_ignored_sigint_stays_ignored_after_the_block():
    steps = []
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with T.interrupts_deferred():
            signal.raise_signal(signal.SIGINT)
        steps.append("went on")
    except KeyboardInterrupt:  # caught here: pytest would stop the whole run on it
        steps.append("KeyboardInterrupt")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert steps == ["went on"]


def test_nested_blocks_hold_the_sigint_until_the_outer_block_ends():
    steps = []
    try:
        with T.interrupts_deferred():
            try:
                with T.interrupts_deferred():
                    signal.raise_signal(signal.SIGINT)
            except KeyboardInterrupt:  # caught here: pytest would stop the whole run on it
                steps.append("interrupted inside the outer block")
            steps.append("outer block completed")
    except KeyboardInterrupt:
        steps.append("raised after the outer block")
    assert steps == ["outer block completed", "raised after the outer block"]


def test_outside_the_main_thread_it_changes_nothing():
    seen = {}
    before = signal.getsignal(signal.SIGINT)

    def worker():
        with T.interrupts_deferred():
            seen["handler"] = signal.getsignal(signal.SIGINT)
            seen["ran"] = True
        try:
            with T.interrupts_deferred():
                raise ValueError("kept")
        except ValueError as exc:
            seen["error"] = str(exc)

    t = threading.Thread(target=worker)
    t.start()
    t.join(10)
    assert seen == {"handler": before, "ran": True, "error": "kept"}
    assert signal.getsignal(signal.SIGINT) is before


# -- status derivation -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "order,expected",
    [
        ({"status": "processed", "is_processing": True}, "processed"),
        ({"status": ""}, "waiting"),
        ({"status": 3, "total_images": 2}, "processed"),
        ({}, "waiting"),
        ({"is_merging": True, "images": [{"status": "processed"}]}, "processing"),
        ({"images": [{"status": "error"}, {"status": "processing"}]}, "processing"),
        ({"images": [{"status": "error"}, {"status": "waiting"}]}, "error"),
        ({"images": [{"status": "waiting"}, {"status": None}, {}]}, "waiting"),
        ({"images": ["junk", {"status": "processed"}]}, "processed"),
        ({"images": [{"status": "odd"}], "is_processing": True}, "processing"),
        ({"images": [{"status": "odd"}], "is_processing": False}, "processed"),
        ({"images": [], "total_images": 0}, "waiting"),
        ({"images": "not a list", "is_processing": True}, "processing"),
    ],
)
def test_derive_status(order, expected):
    assert T.derive_status(order) == expected


@pytest.mark.parametrize(
    "order,expected",
    [
        ({"total_images": 3}, 3),
        ({"total_images": 2.0, "images": [{}]}, 2),
        ({"total_images": float("nan"), "images": [{}, {}]}, 2),
        ({"total_images": True, "images": [{}]}, 1),
        ({"total_images": "3"}, None),
        ({}, None),
    ],
)
def test_image_count(order, expected):
    assert T.image_count(order) == expected


# -- timestamps ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "2023-11-14T22:13:20.123456Z",
        "2023-11-14T22:13:20.123456+00:00",
        "2023-11-15T00:13:20.123456+02:00",
        "2023-11-14T22:13:20.123456",
    ],
)
def test_timestamp_ns_reads_iso_times_as_utc(text):
    assert T.timestamp_ns(text) == NS


@pytest.mark.parametrize("value", [None, "", "yesterday", 1700000000, "2023-13-01T00:00:00Z"])
def test_timestamp_ns_of_missing_or_unreadable_is_none_silently(value):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert T.timestamp_ns(value, "o", "created_at") is None


@pytest.mark.parametrize(
    "text", ["1500-01-01T00:00:00Z", "2300-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]
)
def test_timestamp_ns_out_of_range_is_none_with_a_warning_naming_the_order(text):
    with pytest.warns(UserWarning) as caught:
        assert T.timestamp_ns(text, "kitchen\n1", "created_at") is None
    (message,) = [str(w.message) for w in caught]
    assert message == (
        f"Order 'kitchen\\\\n1': created_at '{text}' is outside the range pandas can hold; "
        "kept as missing (NaT)"
    )


def test_a_row_with_an_out_of_range_time_is_kept_with_nat():
    order = {"order_id": "o", "status": "waiting", "created_at": "0001-01-01T00:00:00Z"}
    with pytest.warns(UserWarning, match="'o': created_at"):
        r = T.row_of(order, "sync")
    assert r == ["o", "", None, "waiting", None, None, "sync"]
    assert T.frame_of([[v] for v in r])["created_at"].isna().all()


def test_row_of_needs_a_string_order_id():
    assert T.row_of({"order_id": 5}, "x") is None and T.row_of({}, "x") is None


# -- CSV ----------------------------------------------------------------------------------------
TRICKY = [
    "plain",
    "comma, inside",
    'quote "q"',
    "multi\nline",
    "crlf\r\ninside",
    "=SUM(A1:A2)",
    "+1",
    "-2",
    "@cmd",
    "\ttab",
    "\rcr",
    "'quoted",
    "'",
    "NA",
    "null",
    "",
    "ünïcode 🏠",
]


def tricky_frame():
    rows = [
        row(
            f"id-{i}",
            name,
            i if i % 3 else None,
            STATUSES[i % 5],
            NS + i * 1000,
            None if i % 2 else NS,
        )
        for i, name in enumerate(TRICKY)
    ]
    rows.append(row("=id", "x", source="@form"))
    return T.frame_of([list(c) for c in zip(*rows, strict=True)])


def test_csv_round_trip_gives_an_equal_frame(tmp_path):
    frame = tricky_frame()
    path = T.write_csv(frame, tmp_path / "orders.csv")
    assert path == (tmp_path / "orders.csv").resolve()
    pd.testing.assert_frame_equal(T.read_orders_csv(path), frame)


def test_csv_escapes_formula_cells_and_uses_crlf(tmp_path):
    raw = T.write_csv(tricky_frame(), tmp_path / "o.csv").read_bytes()
    assert raw.startswith(b"order_id,name,image_count,status,created_at,last_updated_at,source\r\n")
    assert raw.count(b"\r\n") == len(TRICKY) + 2 + 1, "one per line, plus the one inside a name"
    for cell in (b",'=SUM(A1:A2),", b",'+1,", b",'-2,", b",'@cmd,", b",''quoted,", b",'',"):
        assert cell in raw, cell
    assert b"\r\n'=id,x," in raw and b",'@form\r\n" in raw
    assert b"2023-11-14T22:13:20.123456Z" in raw


def test_csv_without_formula_escaping_writes_cells_as_they_are(tmp_path):
    path = T.write_csv(tricky_frame(), tmp_path / "o.csv", escape_formulas=False)
    raw = path.read_bytes()
    assert b",=SUM(A1:A2)," in raw and b"\r\n=id,x," in raw
    back = T.read_orders_csv(path, escape_formulas=False)
    pd.testing.assert_frame_equal(back, tricky_frame())


def test_lone_surrogates_are_written_escaped_and_restored(tmp_path):
    frame = T.frame_of([[v] for v in row("bad\udc80id", "half \ud83d emoji")])
    with pytest.warns(UserWarning, match=r"lone surrogates") as caught:
        path = T.write_csv(frame, tmp_path / "s.csv")
    assert "bad\\\\udc80id" in str(caught[0].message), "names the order, escaped"
    text = path.read_bytes().decode("utf-8")  # valid UTF-8
    assert "half \\ud83d emoji" in text and "bad\\udc80id" in text
    pd.testing.assert_frame_equal(T.read_orders_csv(path), frame)


def test_a_literal_backslash_u_sequence_survives_the_round_trip(tmp_path):
    frame = T.frame_of([[v] for v in row("o", "C:\\ud800\\files")])
    path = T.write_csv(frame, tmp_path / "o.csv")
    pd.testing.assert_frame_equal(T.read_orders_csv(path), frame)


def test_reading_a_csv_shows_no_warning(tmp_path):
    path = T.write_csv(T.frame_of([[v] for v in row("o", "Hall")]), tmp_path / "o.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        T.read_orders_csv(path)


def test_write_csv_refuses_a_folder(tmp_path):
    frame = tricky_frame()
    with pytest.raises(IsADirectoryError, match="is a folder; give a file name"):
        T.write_csv(frame, tmp_path)
    with pytest.raises(IsADirectoryError):
        T.write_csv(frame, f"{tmp_path}/new-folder/")
    assert os.listdir(tmp_path) == []


def test_write_csv_into_a_missing_folder_fails_and_writes_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        T.write_csv(tricky_frame(), tmp_path / "missing" / "o.csv")
    assert os.listdir(tmp_path) == []


def test_read_orders_csv_refuses_a_file_missing_columns(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("order_id,name\r\na,b\r\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"not an order table: missing columns \['image_count'"):
        T.read_orders_csv(path)


def test_read_orders_csv_ignores_extra_columns_and_their_order(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(
        "extra,source,order_id,name,image_count,status,created_at,last_updated_at\r\n"
        "x,sync,a,Hall,2,waiting,2023-11-14T22:13:20.123456Z,\r\n",
        encoding="utf-8",
    )
    back = T.read_orders_csv(path)
    pd.testing.assert_frame_equal(
        back, T.frame_of([[v] for v in row("a", "Hall", 2, source="sync")])
    )


# -- columns_of / frame_of ------------------------------------------------------------------------
def test_frame_of_has_the_columns_and_dtypes_even_when_empty():
    frame = T.frame_of(T.OrderStore().columns())
    assert list(frame.columns) == T.COLUMNS and len(frame) == 0
    assert {c: str(t) for c, t in frame.dtypes.items()} == T.DTYPES


def test_columns_of_undoes_frame_of():
    columns = [
        list(c)
        for c in zip(
            row("a", "Hall", 2, "processed", NS, NS + 7, "form"),
            row("b", "", None, "waiting", None, None, "sync"),
            strict=True,
        )
    ]
    frame = T.frame_of(columns)
    assert T.columns_of(frame) == columns
    assert T.columns_of(frame, source="csv")[T.SOURCE] == ["csv", "csv"]
    assert T.columns_of(frame.iloc[:0]) == [[] for _ in T.COLUMNS]


def test_columns_of_a_csv_read_back_fills_a_store(tmp_path):
    frame = tricky_frame()
    back = T.read_orders_csv(T.write_csv(frame, tmp_path / "o.csv"))
    store = T.OrderStore()
    store.extend(T.columns_of(back, source="csv"))
    store.check()
    assert len(store) == len(frame) and set(store.cols[T.SOURCE]) == {"csv"}
    assert store.cols[T.NAME][: len(TRICKY)] == TRICKY


def test_orders_wording():
    assert [T.orders(n) for n in (0, 1, 2)] == ["0 orders", "1 order", "2 orders"]
