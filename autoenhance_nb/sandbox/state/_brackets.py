"""The HDR bracket calls of the sandbox's account: register and upload brackets, list
an order's brackets, and plan and start an order's merge into images.

``BracketCalls`` is a mixin of ``state.Account``, built on ``state_status.AccountCore``;
the merged images appear (and start processing) in ``AccountCore._advance_order``.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from typing import Any

from ._records import Bracket, Merge, Rejected
from ._status import AccountCore


class BracketCalls(AccountCore):
    """Account calls on HDR brackets and the merges made of them."""

    def create_bracket(self, order_id: str, name: str, metadata: dict[str, Any]) -> dict | None:
        """Register a bracket on an existing order; its BrackeCreatedtOut fields plus
        ``upload_token``, or None when the order does not exist."""
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                return None
            now = self._clock()
            bracket = Bracket(
                bracket_id=str(uuid.uuid4()),
                order_id=order_id,
                name=name,
                metadata=dict(metadata),
                upload_token=secrets.token_urlsafe(24),
                created_at=now,
            )
            self._brackets[bracket.bracket_id] = bracket
            order.bracket_ids.append(bracket.bracket_id)
            order.updated_at = now
            out = self._bracket_out(bracket)
            out["upload_token"] = bracket.upload_token
            return out

    def upload_bracket(
        self, bracket_id: str, token: str | None, data: bytes, fingerprint: list[float] | None
    ) -> str:
        """Store a bracket's bytes; returns "ok", "not_found" or "forbidden"."""
        with self._lock:
            bracket = self._brackets.get(bracket_id)
            if bracket is None:
                return "not_found"
            if not token or not secrets.compare_digest(token, bracket.upload_token):
                return "forbidden"
            bracket.data = data
            bracket.fingerprint = fingerprint
            order = self._orders.get(bracket.order_id)
            if order is not None:
                order.updated_at = self._clock()
            return "ok"

    def order_brackets(self, order_id: str) -> list[dict] | None:
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                return None
            return [
                self._bracket_out(self._brackets[b])
                for b in order.bracket_ids
                if b in self._brackets
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
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                return None
            if groups is not None:
                problems: list[str] = []
                seen: set[str] = set()
                for number, ids in enumerate(groups):
                    if not ids:
                        problems.append(f"Image {number}: bracket_ids must not be empty.")
                    for bracket_id in ids:
                        bracket = self._brackets.get(bracket_id)
                        if bracket is None:
                            problems.append(f"Bracket {bracket_id!r} does not exist.")
                        elif bracket.order_id != order_id:
                            problems.append(f"Bracket {bracket_id!r} belongs to another order.")
                        elif bracket.data is None:
                            problems.append(f"Bracket {bracket_id!r} has not been uploaded.")
                        elif bracket_id in seen:
                            problems.append(f"Bracket {bracket_id!r} is in more than one image.")
                        seen.add(bracket_id)
                if problems:
                    raise Rejected({"images": problems})
                chosen = [[self._brackets[b] for b in ids] for ids in groups]
            else:
                pool = [
                    self._brackets[b]
                    for b in order.bracket_ids
                    if b in self._brackets
                    and self._brackets[b].data is not None
                    and not self._brackets[b].used
                ]
                if not pool:
                    raise Rejected({"_schema": ["The order has no uploaded brackets to process."]})
                if per_image:
                    chosen = [pool[i : i + per_image] for i in range(0, len(pool), per_image)]
                else:
                    chosen = []
                    for bracket in pool:
                        if chosen and same_scene(chosen[-1][0].fingerprint, bracket.fingerprint):
                            chosen[-1].append(bracket)
                        else:
                            chosen.append([bracket])
            return [[(b.bracket_id, b.name, b.data or b"") for b in group] for group in chosen]

    def start_merge(self, order_id: str, merges: list[Merge]) -> dict | None:
        """The order merges ``merges`` for ``merging_seconds``; then each becomes an
        image that is processed like an upload. None when the order is gone."""
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                return None
            now = self._clock()
            for merge in merges:
                for bracket_id in merge.bracket_ids:
                    if bracket_id in self._brackets:
                        self._brackets[bracket_id].used = True
            order.merges.extend(merges)
            order.merging_until = max(order.merging_until or now, now + self.merging_seconds)
            order.updated_at = now
            self._advance_order(order)
            return self._order_out(order)
