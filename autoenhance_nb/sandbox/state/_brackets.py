"""The HDR bracket calls of the sandbox's account: register and upload brackets, list
an order's brackets, and plan and start an order's merge into images.

``Brackets`` is given the account's ``Store``; the merged images appear (and start
processing) in ``Store.advance_order``."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from typing import Any

from ._records import Bracket, Merge, Order, Rejected
from ._store import Store


class Brackets:
    """The calls on HDR brackets and the merges made of them."""

    def __init__(self, store: Store):
        self.store = store

    def create(self, order_id: str, name: str, metadata: dict[str, Any]) -> dict | None:
        """Register a bracket on an existing order; its BrackeCreatedtOut fields plus
        ``upload_token``, or None when the order does not exist."""
        with self.store.lock:
            order = self.store.orders.get(order_id)
            if order is None:
                return None
            now = self.store.clock()
            bracket = Bracket(
                bracket_id=str(uuid.uuid4()),
                order_id=order_id,
                name=name,
                metadata=dict(metadata),
                upload_token=secrets.token_urlsafe(24),
                created_at=now,
            )
            self.store.brackets[bracket.bracket_id] = bracket
            order.bracket_ids.append(bracket.bracket_id)
            order.updated_at = now
            out = self.store.bracket_out(bracket)
            out["upload_token"] = bracket.upload_token
            return out

    def upload(
        self, bracket_id: str, token: str | None, data: bytes, fingerprint: list[float] | None
    ) -> str:
        """Store a bracket's bytes; returns "ok", "not_found" or "forbidden"."""
        with self.store.lock:
            bracket = self.store.brackets.get(bracket_id)
            if bracket is None:
                return "not_found"
            if not token or not secrets.compare_digest(token, bracket.upload_token):
                return "forbidden"
            bracket.data = data
            bracket.fingerprint = fingerprint
            order = self.store.orders.get(bracket.order_id)
            if order is not None:
                order.updated_at = self.store.clock()
            return "ok"

    def of_order(self, order_id: str) -> list[dict] | None:
        with self.store.lock:
            order = self.store.orders.get(order_id)
            if order is None:
                return None
            return [
                self.store.bracket_out(self.store.brackets[b])
                for b in order.bracket_ids
                if b in self.store.brackets
            ]

    def plan_merge(
        self,
        order_id: str,
        groups: list[list[str]] | None,
        per_image: int | None,
        same_scene: Callable[[list[float] | None, list[float] | None], bool],
    ) -> list[list[tuple[str, str, bytes]]] | None:
        """The groups of (bracket_id, name, bytes) a process call would merge, checked;
        None when the order does not exist. Raises Rejected for unknown brackets,
        brackets of another order, brackets not uploaded, a bracket in two groups, an
        empty group, or nothing to process.

        ``groups`` are explicit; else every ``per_image`` brackets not yet part of an
        image, in creation order, make one (the last group may be smaller); else the
        brackets are grouped automatically: consecutive brackets showing the same scene
        (``same_scene`` on their exposure-independent fingerprints) go together."""
        with self.store.lock:
            order = self.store.orders.get(order_id)
            if order is None:
                return None
            if groups is not None:
                chosen = self._explicit(order_id, groups)
            else:
                chosen = self._automatic(order, per_image, same_scene)
            return [[(b.bracket_id, b.name, b.data or b"") for b in group] for group in chosen]

    def _explicit(self, order_id: str, groups: list[list[str]]) -> list[list[Bracket]]:
        """The brackets of explicit groups; Rejected with every problem found."""
        problems: list[str] = []
        seen: set[str] = set()
        for number, ids in enumerate(groups):
            if not ids:
                problems.append(f"Image {number}: bracket_ids must not be empty.")
            for bracket_id in ids:
                problem = self._problem(order_id, bracket_id, seen)
                if problem:
                    problems.append(f"Bracket {bracket_id!r} {problem}.")
                seen.add(bracket_id)
        if problems:
            raise Rejected({"images": problems})
        return [[self.store.brackets[b] for b in ids] for ids in groups]

    def _problem(self, order_id: str, bracket_id: str, seen: set[str]) -> str | None:
        bracket = self.store.brackets.get(bracket_id)
        if bracket is None:
            return "does not exist"
        if bracket.order_id != order_id:
            return "belongs to another order"
        if bracket.data is None:
            return "has not been uploaded"
        if bracket_id in seen:
            return "is in more than one image"
        return None

    def _automatic(
        self,
        order: Order,
        per_image: int | None,
        same_scene: Callable[[list[float] | None, list[float] | None], bool],
    ) -> list[list[Bracket]]:
        """Every ``per_image`` unused uploaded brackets, or runs of one scene."""
        stored = self.store.brackets
        pool = [
            stored[b]
            for b in order.bracket_ids
            if b in stored and stored[b].data is not None and not stored[b].used
        ]
        if not pool:
            raise Rejected({"_schema": ["The order has no uploaded brackets to process."]})
        if per_image:
            return [pool[i : i + per_image] for i in range(0, len(pool), per_image)]
        chosen: list[list[Bracket]] = []
        for bracket in pool:
            if chosen and same_scene(chosen[-1][0].fingerprint, bracket.fingerprint):
                chosen[-1].append(bracket)
            else:
                chosen.append([bracket])
        return chosen

    def start_merge(self, order_id: str, merges: list[Merge]) -> dict | None:
        """The order merges ``merges`` for ``merging_seconds``; then each becomes an
        image that is processed like an upload. None when the order is gone."""
        with self.store.lock:
            order = self.store.orders.get(order_id)
            if order is None:
                return None
            now = self.store.clock()
            for merge in merges:
                for bracket_id in merge.bracket_ids:
                    if bracket_id in self.store.brackets:
                        self.store.brackets[bracket_id].used = True
            order.merges.extend(merges)
            until = now + self.store.settings.merging_seconds
            order.merging_until = max(order.merging_until or now, until)
            order.updated_at = now
            self.store.advance_order(order)
            return self.store.order_out(order)
