"""Orders through the journal: a batch run again from the same notebook, even in a
fresh kernel, finds the orders its first run made; another notebook, another list or
``resume=False`` makes new ones; a taken id the journal did not make is never adopted
silently."""

from __future__ import annotations

from autoenhance_nb import OrderTracker
from autoenhance_nb import errors as E


def test_a_batch_rerun_in_a_fresh_kernel_adopts_the_orders_it_made(client, sandbox):
    first = OrderTracker(client).create_many(["Kitchen", "Hall"], progress=False)
    again = OrderTracker(client).create_many(["Kitchen", "Hall"], progress=False)
    assert again.ok and [o["order_id"] for o in again.created] == [
        o["order_id"] for o in first.created
    ]
    assert len(sandbox.orders) == 2  # was 4: a restart forgot the names it had sent


def test_another_list_or_notebook_or_resume_false_makes_new_orders(client, sandbox, monkeypatch):
    OrderTracker(client).create_many(["Kitchen", "Hall"], progress=False)
    OrderTracker(client).create_many(["Kitchen", "Hall", "Garden"], progress=False)
    assert len(sandbox.orders) == 5
    OrderTracker(client).create_many(["Kitchen", "Hall"], progress=False, resume=False)
    assert len(sandbox.orders) == 7
    monkeypatch.setenv("JPY_SESSION_NAME", "other.ipynb")
    OrderTracker(client).create_many(["Kitchen", "Hall"], progress=False)
    assert len(sandbox.orders) == 9


def test_a_taken_id_the_journal_did_not_make_is_not_adopted(client, sandbox):
    client.create_order("Kitchen", order_id="kitchen-1")  # someone else's, same name
    result = OrderTracker(client).create_many(
        [{"name": "Kitchen", "order_id": "kitchen-1"}], progress=False
    )
    (failure,) = result.failed
    assert isinstance(failure.error, E.ConflictError)
    assert "not adopted" in failure.message and "\n" not in failure.message
    again = OrderTracker(client).create_many(
        [{"name": "Kitchen", "order_id": "kitchen-1"}], progress=False
    )
    assert again.failed, "a refused id must not count as the journal's on a re-run"
    adopted = OrderTracker(client).create_many(
        [{"name": "Kitchen", "order_id": "kitchen-1"}], progress=False, adopt_existing=True
    )
    assert adopted.ok and len(sandbox.orders) == 1  # asked for explicitly


def test_an_order_made_by_create_is_the_journals_own(client, sandbox):
    OrderTracker(client).create("Loft", order_id="loft-1")
    again = OrderTracker(client).create_many(
        [{"name": "Loft", "order_id": "loft-1"}], progress=False
    )
    assert again.ok and len(sandbox.orders) == 1
