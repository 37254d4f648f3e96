"""The marketplace's behaviour: orders arriving, lives unfolding, updates received.

:class:`Marketplace` is what the HTTP routes call. Every call first brings the state
up to the simulated time (:meth:`Marketplace.tick`): orders due to arrive are
generated and scripted events (picking, invoicing, shipping, delivery, cancellations,
cancellation requests) whose time has come are applied, in time order. Because all of
it is derived from the seed and the clock, two simulators with the same seed agree.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.sandbox.clock import SimClock
from service.sandbox.marketplace.config import MarketplaceSimConfig
from service.sandbox.marketplace.generator import (
    BROKEN_KINDS,
    FINAL_STATUSES,
    LINE_FLOW,
    OrderFactory,
    iso,
    money,
    rank,
)
from service.sandbox.marketplace.store import MarketplaceStore
from service.sandbox.seed import SandboxSeed

ORDER_STATUSES = (*LINE_FLOW, *FINAL_STATUSES)
# Spread of the initial orders before start-up, so a first fetch sees a realistic backlog.
INITIAL_SPREAD = timedelta(hours=1)
TRANSIENT_FAILURES = (
    "Shipment package is locked by another process, try again later.",
    "Tracking number is already used by another shipment package.",
    "Order is being re-routed by the marketplace warehouse.",
)


class Behaviour(BaseModel):
    """Failure shares for what we push to the marketplace (changeable at run time)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    update_failure_share: float = Field(
        0.1, ge=0, le=1, description="share of valid status updates answered FAIL anyway"
    )
    batch_failure_share: float = Field(
        0.05, ge=0, le=1, description="share of async batches that fail as a whole"
    )


class BehaviourPatch(BaseModel):
    """A partial update of :class:`Behaviour`."""

    model_config = ConfigDict(extra="forbid")

    update_failure_share: float | None = Field(None, ge=0, le=1)
    batch_failure_share: float | None = Field(None, ge=0, le=1)


class MarketplaceError(Exception):
    """A request the marketplace refuses; the routes turn it into a JSON error."""

    def __init__(
        self, status_code: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.code = code
        self.detail = detail
        self.headers = headers or {}


def derive_order_status(lines: list[dict[str, Any]]) -> str:
    """The order status implied by its lines: the least advanced active line wins."""
    active = [line["status"] for line in lines if line["status"] != "Cancelled"]
    if not active:
        return "Cancelled"
    on_path = [status for status in active if rank(status) >= 0]
    return min(on_path, key=rank) if on_path else active[0]


def _net(line: dict[str, Any]) -> Decimal | None:
    try:
        return Decimal(line["unit_price"]) * line["quantity"] - Decimal(line["discount"])
    except (InvalidOperation, TypeError):
        return None


class Marketplace:
    """The simulated marketplace: state in a store, time from a clock."""

    def __init__(
        self,
        config: MarketplaceSimConfig,
        seed_data: SandboxSeed,
        store: MarketplaceStore,
        clock: SimClock,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.factory = OrderFactory(seed_data, config.seed)
        self.behaviour = Behaviour()
        self._reasons = {r.channel_code: r for r in seed_data.cancellation_reasons}
        with store.transaction():
            if store.meta("started_at") is None:
                self._initialise()

    # -- time --------------------------------------------------------------------------

    def _initialise(self) -> None:
        now = self.clock.now()
        self.store.set_meta("started_at", iso(now))
        self.store.set_meta("seed", self.config.seed)
        count = self.config.initial_orders
        for i in range(count):
            created = now - INITIAL_SPREAD * (count - i) / count
            self._generate_one(created, self.config.broken_share)

    def now(self) -> datetime:
        """The simulated time."""
        return self.clock.now()

    def tick(self) -> None:
        """Generate the orders due by now and apply the scripted events due by now."""
        now = self.clock.now()
        with self.store.transaction():
            self._arrivals(now)
            self._apply_due(iso(now))
            self.store.set_meta("last_seen", iso(now))

    def _arrival_time(self, number: int) -> datetime:
        started = datetime.fromisoformat(str(self.store.meta("started_at")))
        interval = 3600.0 / self.config.arrival_per_hour
        jitter = self.factory.rng("arrival", number).random()
        return started + timedelta(seconds=(number + jitter) * interval)

    def _arrivals(self, now: datetime) -> None:
        if self.config.arrival_per_hour <= 0:
            return
        arrived = int(self.store.meta("arrivals", "0") or 0)
        while (at := self._arrival_time(arrived)) <= now:
            self._generate_one(at, self.config.broken_share)
            arrived += 1
            self.store.set_meta("arrivals", arrived)

    # -- orders ------------------------------------------------------------------------

    def _next_broken(self, share: float) -> str | None:
        """Broken kind of the next order: exactly ``share`` of orders, kinds in rotation."""
        acc = float(self.store.meta("broken_acc", "0") or 0) + share
        kind = None
        if acc >= 1 - 1e-9:
            acc -= 1
            done = int(self.store.meta("broken_count", "0") or 0)
            kind = BROKEN_KINDS[done % len(BROKEN_KINDS)]
            self.store.set_meta("broken_count", done + 1)
        self.store.set_meta("broken_acc", acc)
        return kind

    def _generate_one(self, created: datetime, share: float) -> dict[str, Any]:
        index = int(self.store.meta("next_index", "0") or 0)
        generated = self.factory.order(index, created, self._next_broken(share))
        events = [(iso(e.at), e.kind, e.data) for e in generated.script]
        self.store.insert_order(index, generated.payload, generated.broken, events)
        self.store.set_meta("next_index", index + 1)
        return {
            "id": generated.id,
            "number": generated.payload["order_number"],
            "created_at": generated.payload["created_at"],
            "broken": generated.broken,
        }

    def generate(self, count: int, broken_share: float | None) -> list[dict[str, Any]]:
        """Create ``count`` orders now (control API)."""
        self.tick()
        share = self.config.broken_share if broken_share is None else broken_share
        now = self.clock.now()
        with self.store.transaction():
            # Distinct microseconds keep creation times unique and in generation order.
            return [
                self._generate_one(now + timedelta(microseconds=i), share) for i in range(count)
            ]

    # -- scripted events ---------------------------------------------------------------

    def _apply_due(self, now: str) -> None:
        for event in self.store.due_events(now):
            data = json.loads(event["data"])
            order = self.store.order(int(event["order_id"]))
            if order is not None:
                if event["kind"] == "line_status":
                    self._set_lines(order, data["line_ids"], data, str(event["at"]))
                elif event["kind"] == "cancel":
                    self._cancel(order, data["line_ids"], data["reason_code"], str(event["at"]))
                elif event["kind"] == "cancellation_request":
                    self._request_cancellation(order, data, str(event["at"]))
            self.store.mark_applied(int(event["id"]))

    def _set_lines(
        self, order: dict[str, Any], line_ids: list[int], change: dict[str, Any], at: str
    ) -> list[dict[str, Any]]:
        """Move lines forward and publish a line update for each line that changed."""
        updates = []
        new_status = change.get("status")
        for line in order["lines"]:
            if line["id"] not in line_ids or line["status"] in ("Cancelled", "Returned"):
                continue
            before = dict(line)
            if new_status and (rank(new_status) > rank(line["status"]) or rank(new_status) < 0):
                line["status"] = new_status
            for key in ("invoice_number", "invoice_date", "tracking_number"):
                if change.get(key):
                    line[key] = change[key]
            if line != before:
                updates.append(self._publish_line_update(order, line, at))
        if updates:
            order["status"] = derive_order_status(order["lines"])
            order["updated_at"] = at
            self.store.save_order(order)
        return updates

    def _publish_line_update(
        self, order: dict[str, Any], line: dict[str, Any], at: str
    ) -> dict[str, Any]:
        payload = {
            "id": 0,
            "line_id": line["id"],
            "order_id": order["id"],
            "order_number": order["order_number"],
            "status": line["status"],
            "invoice_number": line["invoice_number"],
            "invoice_date": line["invoice_date"],
            "tracking_number": line["tracking_number"],
            "cargo_provider_code": order["cargo_provider_code"],
            "created_at": at,
        }
        self.store.append("line_updates", at, payload)
        return payload

    def _cancel(
        self,
        order: dict[str, Any],
        line_ids: list[int],
        reason_code: str,
        at: str,
        *,
        force: bool = False,
    ) -> dict[str, Any] | None:
        """Cancel lines that are not shipped yet (any line when ``force``)."""
        reason = self._reasons.get(reason_code)
        cancelled = []
        refund = Decimal(0)
        for line in order["lines"]:
            if line["id"] not in line_ids or line["status"] in ("Cancelled", "Returned"):
                continue
            if not force and rank(line["status"]) >= rank("Shipped"):
                continue
            line["status"] = "Cancelled"
            line["cancel_reason_code"] = reason_code
            net = _net(line)
            refund = refund + net if net is not None else refund
            cancelled.append(
                {
                    "line_id": line["id"],
                    "quantity": line["quantity"],
                    "reason_code": reason_code,
                    "reason": reason.name if reason else "",
                }
            )
        if not cancelled:
            return None
        order["status"] = derive_order_status(order["lines"])
        order["updated_at"] = at
        self.store.save_order(order)
        payload = {
            "id": 0,
            "order_id": order["id"],
            "order_number": order["order_number"],
            "created_at": at,
            "lines": cancelled,
            # A partial cancel refunds only those lines; a full one leaves it to the system.
            "refund_amount": money(refund) if order["status"] != "Cancelled" else None,
        }
        self.store.append("cancellations", at, payload)
        return payload

    def _request_cancellation(
        self, order: dict[str, Any], data: dict[str, Any], at: str
    ) -> dict[str, Any] | None:
        line = next((ln for ln in order["lines"] if ln["id"] == data["line_id"]), None)
        if line is None or line["status"] == "Cancelled":
            return None
        if self.store.open_request_for_line(line["id"]):
            return None
        reason = self._reasons.get(data["reason_code"])
        payload = {
            "id": 0,
            "order_id": order["id"],
            "order_number": order["order_number"],
            "line_id": line["id"],
            "quantity": line["quantity"],
            "reason_code": data["reason_code"],
            "reason": reason.name if reason else "",
            "description": data.get("description", ""),
            "type": data["type"],
            "status": "pending",
            "created_at": at,
            "updated_at": at,
            "decision_reason_code": "",
            "decision_note": "",
        }
        self.store.append(
            "cancellation_requests", at, payload, status="pending", line_id=line["id"]
        )
        return payload

    # -- control API actions -----------------------------------------------------------

    def cancel_now(
        self, order_id: int, line_ids: list[int] | None, reason_code: str | None
    ) -> dict[str, Any]:
        """Cancel an order's lines now (control API)."""
        self.tick()
        with self.store.transaction():
            order = self._order_or_404(order_id)
            ids = line_ids or [line["id"] for line in order["lines"]]
            code = reason_code or next(iter(self._reasons))
            result = self._cancel(order, ids, code, iso(self.now()), force=True)
        if result is None:
            raise MarketplaceError(409, "nothing_to_cancel", "No line left to cancel.")
        return result

    def update_line_now(self, line_id: int, change: dict[str, Any]) -> dict[str, Any]:
        """Change a line now (control API); with no change given, move it one step on."""
        self.tick()
        at = iso(self.now())
        with self.store.transaction():
            order = self.store.order_of_line(line_id)
            if order is None:
                raise MarketplaceError(404, "not_found", f"Line {line_id} not found.")
            line = next(ln for ln in order["lines"] if ln["id"] == line_id)
            if not any(change.values()):
                change = self._next_step(order, line, at)
            if change.get("status") and change["status"] not in ORDER_STATUSES:
                raise MarketplaceError(
                    422, "invalid_status", f"Unknown status {change['status']!r}."
                )
            # A forced update may move backwards or off the path: apply it literally.
            before = dict(line)
            for key in ("status", "invoice_number", "invoice_date", "tracking_number"):
                if change.get(key):
                    line[key] = change[key]
            if line == before:
                raise MarketplaceError(409, "no_change", f"Line {line_id} already looks like that.")
            order["status"] = derive_order_status(order["lines"])
            order["updated_at"] = at
            self.store.save_order(order)
            return self._publish_line_update(order, line, at)

    def _next_step(self, order: dict[str, Any], line: dict[str, Any], at: str) -> dict[str, Any]:
        position = rank(line["status"])
        if position < 0 or position + 1 >= len(LINE_FLOW):
            raise MarketplaceError(409, "no_next_status", f"Line {line['id']} cannot move on.")
        status = LINE_FLOW[position + 1]
        rng = self.factory.rng("manual-line", line["id"], status)
        change: dict[str, Any] = {"status": status}
        if status == "Invoiced":
            change |= {
                "invoice_number": f"CDM{at[:4]}{rng.randint(0, 10**9 - 1):09d}",
                "invoice_date": at,
            }
        elif status == "Shipped" and not line["tracking_number"]:
            change["tracking_number"] = str(rng.randint(10**11, 10**12 - 1))
        return change

    def generate_requests(
        self, count: int, kind: str | None, order_id: int | None
    ) -> list[dict[str, Any]]:
        """Create customer cancellation requests now (control API)."""
        self.tick()
        at = iso(self.now())
        created: list[dict[str, Any]] = []
        with self.store.transaction():
            briefs = self.store.order_briefs()
            if order_id is not None:
                briefs = [b for b in briefs if b["id"] == order_id]
            # Refunds come after delivery: prefer delivered orders, then any open one.
            briefs.sort(key=lambda b: (b["status"] != "Delivered", b["created_at"], b["id"]))
            for brief in briefs:
                if len(created) >= count:
                    break
                order = self.store.order(brief["id"])
                assert order is not None
                for line in order["lines"]:
                    if line["status"] == "Cancelled" or self.store.open_request_for_line(
                        line["id"]
                    ):
                        continue
                    req_type = kind or ("refund" if line["status"] == "Delivered" else "cancel")
                    reasons = [r for r in self._reasons.values() if r.cancellation_type == req_type]
                    reason = self.factory.rng("manual-request", line["id"]).choice(reasons)
                    data = {
                        "line_id": line["id"],
                        "reason_code": reason.channel_code,
                        "type": req_type,
                        "description": reason.name,
                    }
                    request = self._request_cancellation(order, data, at)
                    if request:
                        created.append(request)
                    break
        return created

    # -- the public API's write operations ---------------------------------------------

    def decide_request(
        self, request_id: int, status: str, reason_code: str, note: str
    ) -> dict[str, Any]:
        """Approve or reject a cancellation request (idempotent for the same decision)."""
        self.tick()
        with self.store.transaction():
            request = self.store.feed_item("cancellation_requests", request_id)
            if request is None:
                raise MarketplaceError(
                    404, "not_found", f"Cancellation request {request_id} not found."
                )
            if request["status"] == status:
                return request
            if request["status"] != "pending":
                raise MarketplaceError(
                    409,
                    "already_decided",
                    f"Cancellation request {request_id} is already {request['status']}.",
                )
            if status == "rejected" and not reason_code:
                raise MarketplaceError(422, "reason_required", "A rejection needs a reason_code.")
            if reason_code and reason_code not in self._reasons:
                raise MarketplaceError(
                    422, "unknown_reason", f"Unknown reason code {reason_code!r}."
                )
            at = iso(self.now())
            request |= {
                "status": status,
                "updated_at": at,
                "decision_reason_code": reason_code,
                "decision_note": note,
            }
            self.store.save_cancellation_request(request)
            if status == "approved":
                order = self.store.order(request["order_id"])
                if order is not None:
                    code = request["reason_code"]
                    self._cancel(order, [request["line_id"]], code, at, force=True)
            return request

    def receive_updates(
        self, updates: list[dict[str, Any]], *, mode: str, batch_id: str = ""
    ) -> list[dict[str, Any]]:
        """Apply order status updates and return one result per update."""
        results = []
        at = iso(self.now())
        for update in updates:
            seen = int(self.store.meta("updates_received", "0") or 0)
            self.store.set_meta("updates_received", seen + 1)
            status, message = self._apply_update(
                update, random.Random(f"{self.config.seed}:u:{seen}")
            )
            result = {
                "order_id": update.get("order_id"),
                "order_number": update.get("order_number", ""),
                "status": status,
                "message": message,
            }
            results.append(result)
            self.store.record_status_update(
                {
                    "received_at": at,
                    "mode": mode,
                    "batch_id": batch_id,
                    "order_id": update.get("order_id"),
                    "order_number": update.get("order_number", ""),
                    "status": update.get("status"),
                    "tracking_number": update.get("tracking_number", ""),
                    "lines": update.get("lines", []),
                    "result": status,
                    "message": message,
                }
            )
        return results

    def _apply_update(self, update: dict[str, Any], rng: random.Random) -> tuple[str, str]:
        order = self.store.order(int(update["order_id"]))
        status = update["status"]
        if order is None:
            return "FAIL", f"Order {update['order_id']} not found."
        number = update.get("order_number") or ""
        if number and number != order["order_number"]:
            return "FAIL", f"Order number {number} does not belong to order {order['id']}."
        if status not in ORDER_STATUSES:
            return "FAIL", f"Unknown status {status!r}."
        if order["status"] == "Cancelled" and status != "Cancelled":
            return "FAIL", f"Order {order['order_number']} is cancelled."
        tracking = update.get("tracking_number") or ""
        line_ids = {ln["line_id"] for ln in update.get("lines") or []} or {
            ln["id"] for ln in order["lines"]
        }
        unknown = line_ids - {ln["id"] for ln in order["lines"]}
        if unknown:
            return "FAIL", f"Lines {sorted(unknown)} do not belong to order {order['id']}."
        has_tracking = tracking or all(
            ln["tracking_number"] for ln in order["lines"] if ln["id"] in line_ids
        )
        if status == "Shipped" and not has_tracking:
            return "FAIL", "Tracking number is required for status Shipped."
        if rng.random() < self.behaviour.update_failure_share:
            return "FAIL", rng.choice(TRANSIENT_FAILURES)
        changed = False
        for line in order["lines"]:
            if line["id"] not in line_ids or line["status"] in ("Cancelled", "Returned"):
                continue
            if rank(status) > rank(line["status"]) or rank(status) < 0:
                line["status"] = status
                changed = True
            if tracking and line["tracking_number"] != tracking:
                line["tracking_number"] = tracking
                changed = True
        if not changed:
            return "SUCCESS", f"No change: order is already {order['status']}."
        order["status"] = derive_order_status(order["lines"])
        order["updated_at"] = iso(self.now())
        self.store.save_order(order)
        return "SUCCESS", ""

    def update_sync(self, updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Handle a synchronous status-update request."""
        self.tick()
        with self.store.transaction():
            return self.receive_updates(updates, mode="sync")

    def submit_batch(self, updates: list[dict[str, Any]]) -> dict[str, Any]:
        """Accept an asynchronous status-update batch; its results appear later."""
        self.tick()
        with self.store.transaction():
            seq = int(self.store.meta("batches", "0") or 0) + 1
            self.store.set_meta("batches", seq)
            rng = self.factory.rng("batch", seq)
            batch_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            now = self.now()
            complete = now + timedelta(seconds=self.config.async_batch_seconds)
            failed = rng.random() < self.behaviour.batch_failure_share
            if failed:
                results: list[dict[str, Any]] = []
                for update in updates:
                    self.store.record_status_update(
                        {
                            "received_at": iso(now),
                            "mode": "async",
                            "batch_id": batch_id,
                            "order_id": update.get("order_id"),
                            "order_number": update.get("order_number", ""),
                            "status": update.get("status"),
                            "tracking_number": update.get("tracking_number", ""),
                            "lines": update.get("lines", []),
                            "result": "BATCH_FAILED",
                            "message": "",
                        }
                    )
            else:
                results = self.receive_updates(updates, mode="async", batch_id=batch_id)
            payload = {
                "batch_id": batch_id,
                "status": "failed" if failed else "completed",
                "created_at": iso(now),
                "completed_at": iso(complete),
                "item_count": len(updates),
                "failure_reason": "Batch could not be processed, send it again." if failed else "",
                "results": results,
            }
            self.store.insert_batch(batch_id, iso(now), iso(complete), payload)
            return self._batch_view(payload, iso(complete), iso(now))

    def batch(self, batch_id: str) -> dict[str, Any]:
        """An async batch as it looks now: processing until its time has come."""
        self.tick()
        with self.store.lock:
            found = self.store.batch(batch_id)
        if found is None:
            raise MarketplaceError(404, "not_found", f"Batch {batch_id} not found.")
        complete_at, payload = found
        return self._batch_view(payload, complete_at, iso(self.now()))

    @staticmethod
    def _batch_view(payload: dict[str, Any], complete_at: str, now: str) -> dict[str, Any]:
        if now >= complete_at:
            return payload
        return payload | {
            "status": "processing",
            "completed_at": None,
            "failure_reason": "",
            "results": [],
        }

    def _order_or_404(self, order_id: int) -> dict[str, Any]:
        order = self.store.order(order_id)
        if order is None:
            raise MarketplaceError(404, "not_found", f"Order {order_id} not found.")
        return order

    # -- reads -------------------------------------------------------------------------

    def page(
        self,
        feed: str,
        *,
        created_from: datetime | None,
        created_to: datetime | None,
        page: int,
        size: int,
        filters: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One page of a feed in the API's envelope."""
        self.tick()
        with self.store.lock:
            total, items = self.store.feed_page(
                feed,
                created_from=iso(created_from) if created_from else None,
                created_to=iso(created_to) if created_to else None,
                page=page,
                size=size,
                filters=filters,
            )
        pages = (total + size - 1) // size
        return {
            "page": page,
            "size": size,
            "total_elements": total,
            "total_pages": pages,
            "next_page": page + 1 if page < pages else None,
            "items": items,
        }

    def order(self, order_id: int) -> dict[str, Any]:
        """One order by id."""
        self.tick()
        with self.store.lock:
            return self._order_or_404(order_id)

    def summary(self) -> dict[str, Any]:
        """Counts of everything, for the control API."""
        self.tick()
        with self.store.lock:
            s = self.store
            briefs = s.order_briefs()
            by_status: dict[str, int] = {}
            broken: dict[str, int] = {}
            for brief in briefs:
                by_status[brief["status"]] = by_status.get(brief["status"], 0) + 1
                if brief["broken"]:
                    broken[brief["broken"]] = broken.get(brief["broken"], 0) + 1
            return {
                "now": iso(self.now()),
                "started_at": s.meta("started_at"),
                "orders": len(briefs),
                "orders_by_status": by_status,
                "broken_orders": broken,
                "line_updates": s.count("line_updates"),
                "cancellations": s.count("cancellations"),
                "cancellation_requests": s.count("cancellation_requests"),
                "pending_cancellation_requests": s.count(
                    "cancellation_requests", "status = 'pending'"
                ),
                "status_updates_received": s.count("status_updates"),
                "batches": s.count("batches"),
                "pending_events": s.count("events", "applied = 0"),
            }
