"""The vectorised paths of the performance issue give exactly what the row-by-row
paths gave: answers to columns, upsert of many rows, worker sizing."""

from __future__ import annotations

import random
import warnings

import pytest

from autoenhance_nb.tracker import table as T
from autoenhance_nb.tracker._batch import choose_workers

TIMES = [
    "2026-11-27T10:00:00Z",
    "2026-11-27T10:00:00.123456+00:00",
    "2026-11-27T10:00:00.1234567Z",
    "2026-11-27T10:00:00+05:30",
    "2026-11-27T10:00:00-0800",
    "2026-11-27",
    "2026-W48-5",
    "1500-01-01T00:00:00Z",
    "2262-04-11T23:47:16.854776Z",
    "2026-02-30T00:00:00Z",
    "2026-11-27T24:00:00Z",
    "  2026-11-27T10:00:00Z",
    "2026-11-27t10:00:00Z",
    "now",
    "2026",
    "",
    None,
    5,
    "２０２６-11-27T10:00:00Z",
    "2026-11-27T10:00:00+99:99",
    "2261-12-31T23:59:59.999999-23:59",
    "2026-11-27T10:00:00.5",
]


def hostile_answers(n: int, seed: int = 7) -> list:
    rng = random.Random(seed)
    statuses = [None, "", "processing", "processed", "waiting", 3, "=cmd"]
    out: list = []
    for i in range(n):
        k = rng.random()
        if k < 0.02:
            out.append(rng.choice([None, "x", 3, []]))
            continue
        order = {
            "order_id": rng.choice([f"o{i}", f"o{i}", f"o{i}", 17, None]),
            "name": rng.choice([f"n{i}", None, 5, "=SUM(A1)", "\ud800x", ""]),
            "status": rng.choice(statuses),
            "total_images": rng.choice([None, 0, 3, 2.0, True, float("nan"), "4"]),
            "created_at": rng.choice(TIMES),
            "last_updated_at": rng.choice(TIMES),
            "is_processing": rng.random() < 0.3,
            "is_merging": rng.random() < 0.1,
        }
        if rng.random() < 0.3:
            order["images"] = [
                {"image_id": f"i{i}-{j}", "status": rng.choice(["processing", "error", None])}
                for j in range(rng.randint(0, 3))
            ]
        out.append(order)
    return out


def rows_old_way(answers: list, source: str) -> list[list]:
    rows = []
    for order in answers:
        row = T.row_of(order, source) if isinstance(order, dict) else None
        if row is not None:
            rows.append(row)
    return rows


def test_columns_of_answers_equal_row_of_for_10k_hostile_answers():
    answers = hostile_answers(10_000)
    with warnings.catch_warnings(record=True) as old_w:
        warnings.simplefilter("always")
        old = rows_old_way(answers, "s")
    with warnings.catch_warnings(record=True) as new_w:
        warnings.simplefilter("always")
        columns, images = T.columns_of_answers(answers, "s")
    assert [list(r) for r in zip(*columns, strict=True)] == old
    assert sorted(str(w.message) for w in new_w) == sorted(str(w.message) for w in old_w)
    assert [oid for oid, _ in images] == [
        o["order_id"]
        for o in answers
        if isinstance(o, dict) and isinstance(o.get("order_id"), str) and o.get("images")
    ]


@pytest.mark.parametrize("value", TIMES)
def test_timestamps_ns_equal_timestamp_ns_one_by_one(value):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert T.timestamps_ns([value, value], ["a", "b"], "f") == [T.timestamp_ns(value)] * 2


def test_upsert_many_equals_upsert_row_by_row():
    answers = hostile_answers(5_000, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base, _ = T.columns_of_answers(answers, "first")
        update, _ = T.columns_of_answers(hostile_answers(5_000, seed=4), "later")
    for subset in (slice(None), slice(0, None, 2)):  # with new rows (slow path) and without
        one, many = T.OrderStore(), T.OrderStore()
        for row in T.iter_rows(base):
            one.upsert(row)
            many.upsert(list(row))
        existing = [
            [col[i] for i in range(len(update[0])) if update[0][i] in one.index] for col in update
        ]
        for cols in (update, existing):
            part = [c[subset] for c in cols]
            for row in T.iter_rows(part):
                one.upsert(row)
            many.upsert_many(part)
            assert one.cols == many.cols and one.counts == many.counts
            many.check()


def test_choose_workers_from_rate_and_latency():
    assert choose_workers(300, None) == 36  # 100 ms assumed
    assert choose_workers(300, 0.002) == 8  # at least the old default
    assert choose_workers(300, 0.05) == 18
    assert choose_workers(300, 2.0) == 64  # at most 64 threads
    assert choose_workers(None, 0.05) == 18  # no limiter: sized as for the live API
    assert choose_workers(300, 0.05, total=5) == 5


def test_the_progress_bar_shows_the_pace():
    import time

    from autoenhance_nb.tracker._batch import BatchResult, fan_out

    class Bar:
        def __init__(self):
            self.n, self.postfix = 0, {}

        def update(self, n):
            self.n += n

        def set_postfix(self, postfix, refresh=True):
            self.postfix = dict(postfix)

    counter = [0, 0]

    def call(i):
        time.sleep(0.05)
        counter[0] += 1
        return i

    bar = Bar()
    result = fan_out(
        list(range(40)),
        call,
        workers=2,
        result=BatchResult(total=40),
        describe=lambda i: {"i": i},
        progress=bar,
        pace=lambda: (counter[0], counter[1]),
    )
    assert result.done == list(range(40)) and bar.n == 40
    assert bar.postfix["req/s"] > 0 and bar.postfix["429s"] == 0
