"""fetch-item-updates: patch Omnitron's order items with the channel's line changes.

For each line update since the cursor: find the line's items (set (c)), read each,
and PATCH only the fields that differ among status, invoice number, invoice date and
tracking number. A line of quantity 3 is three Omnitron items (one per unit) and the
channel's change concerns the whole line, so every unit's item is updated — taking
only the first, as the reference does (docs/omnitron-api.md §6.11), would leave the
other units behind.

- No item for the line: when its order is not in Omnitron yet, the update is parked
  and retried by later runs (:mod:`service.flows.parking`; a line's later update
  replaces its parked one, as it carries the line's whole state); when the order is
  there without the line, it is an error report (§6.11: never silent).
- An item already in the wanted state is not patched (skipped, ``item.unchanged``).
- Status never moves backwards and never into or out of a cancellation: Omnitron may
  be ahead of an older channel update (it moves orders on by itself), and cancelling
  is fetch-cancels' job, with a reason.
- ``extra_field`` is never replaced by the channel's: the channel's keys are merged
  into the item's own, and the item's ``id`` (the line id) always stays.

What the batch carries: each patched item with the ``modified_date`` of its PATCH
answer as ``version_date`` and the line id as ``remote_id`` — the record that this
version of the item came from the channel. Counts are per line update.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from service.channel.adapter import Fetched
from service.channel.models import ChannelLineUpdate
from service.flows.channel_feed import (
    CommitBuffer,
    drain_feed_into_batch,
    item_pks_for_line,
)
from service.flows.parking import NotInOmnitronYet, Parking, order_in_omnitron
from service.flows.run import FlowRun
from service.omnitron.client import CANCELLED_STATUSES
from service.omnitron.models.batch import BatchObject
from service.omnitron.models.order import OrderItem

COMMAND = "UpdateOrderItems"
LABEL = "line_update"
# One parked entry per line: a later update of the line replaces an earlier one.
PARKING = Parking(ChannelLineUpdate, key=lambda update: update.remote_id)


def fetch_item_updates(run: FlowRun) -> None:
    """Apply the channel's line updates since the cursor to Omnitron's order items."""
    drain_feed_into_batch(
        run,
        run.channel.fetch_line_updates,
        label=LABEL,
        command=COMMAND,
        handle=lambda objects, update, fetched: _apply(run, objects, update, fetched),
        subject_of=_subject,
        parking=PARKING,
    )


def _subject(fetched: Fetched[ChannelLineUpdate]) -> str:
    if fetched.item is not None:
        return fetched.item.remote_id
    return str(fetched.payload.get("line_id") or fetched.remote_id or "?")


def _apply(
    run: FlowRun,
    objects: CommitBuffer,
    update: ChannelLineUpdate,
    fetched: Fetched[ChannelLineUpdate],
) -> None:
    line = update.remote_id
    pks = item_pks_for_line(run, line)
    if not pks:
        of_order = f" of order {update.order_remote_id}" if update.order_remote_id else ""
        if not order_in_omnitron(run, update.order_remote_id):
            raise NotInOmnitronYet(
                f"Cannot update line {line}{of_order} yet: the order is not in Omnitron; "
                "the update is parked until it is."
            )
        description = (
            f"Cannot update line {line}{of_order}: the order is in Omnitron but no "
            "order item has this line id."
        )
        run.tally.add(failed=1)
        run.ctx.event("item.not_found", line, description, logging.WARNING)
        run.reporter.failure(
            once=True,
            command=COMMAND,
            subject=line,
            description=description,
            raw=fetched.raw,
            raw_payload=dict(fetched.payload),
        )
        return
    patched: list[OrderItem] = []
    for pk in pks:
        item = run.omnitron.get_order_item(pk)
        changes = changed_fields(item, update)
        if not changes:
            run.ctx.event("item.unchanged", str(pk), f"Item {pk} of line {line} is up to date.")
            continue
        body = dict(changes)
        # Merged, never replaced: a fragment would wipe the item's own keys (§6.11).
        body["extra_field"] = merged_extra_field(item, update)
        after = run.omnitron.patch_order_item(pk, body)
        patched.append(after)
        run.ctx.event(
            "item.patched",
            str(pk),
            f"Item {pk} of line {line}: {', '.join(sorted(changes))} updated.",
        )
    if not patched:
        run.tally.add(skipped=1)
        run.reporter.success(
            command=COMMAND,
            subject=line,
            description=f"Line {line}: nothing changed on its {len(pks)} item(s).",
            content_type="orderitem",
            object_id=pks[0],
        )
        return
    objects.add(
        BatchObject(
            pk=item.pk,
            version_date=item.modified_date,
            content_type="orderitem",
            remote_id=item.remote_id or line,
        )
        for item in patched
    )
    run.tally.add(updated=1)
    run.reporter.success(
        command=COMMAND,
        subject=line,
        description=f"Line {line}: {len(patched)} of {len(pks)} item(s) updated.",
        content_type="orderitem",
        object_id=patched[0].pk,
        modified_date=patched[0].modified_date,
    )


def changed_fields(item: OrderItem, update: ChannelLineUpdate) -> dict[str, Any]:
    """The fields of ``item`` the update changes; empty channel values change nothing."""
    changes: dict[str, Any] = {}
    if update.status and update.status != item.status and _status_may_move(item, update.status):
        changes["status"] = update.status
    if update.invoice_number and update.invoice_number != (item.invoice_number or ""):
        changes["invoice_number"] = update.invoice_number
    if update.invoice_date is not None and not _same_moment(item.invoice_date, update.invoice_date):
        changes["invoice_date"] = _aware(update.invoice_date).isoformat()
    if update.tracking_number and update.tracking_number != (item.tracking_number or ""):
        changes["tracking_number"] = update.tracking_number
    return changes


def merged_extra_field(item: OrderItem, update: ChannelLineUpdate) -> dict[str, Any]:
    """The item's ``extra_field`` with the channel's keys added; its ``id`` is kept."""
    merged = {**item.extra_field, **{k: v for k, v in update.extra_field.items() if k != "id"}}
    if "id" in item.extra_field:
        merged["id"] = item.extra_field["id"]
    return merged


def _status_may_move(item: OrderItem, wanted: str) -> bool:
    current = item.status or ""
    if current in CANCELLED_STATUSES or wanted in CANCELLED_STATUSES:
        return False
    if current.isdigit() and wanted.isdigit():
        return int(wanted) > int(current)
    return True


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _same_moment(stored: str | None, moment: datetime) -> bool:
    if not stored:
        return False
    try:
        current = datetime.fromisoformat(stored.replace("Z", "+00:00"))
    except ValueError:
        return False
    return _aware(current) == _aware(moment)
