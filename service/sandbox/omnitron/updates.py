"""The ``updates/`` listings: objects changed since their last successful sync."""

from __future__ import annotations

from service.sandbox.omnitron.batches import PROCESSING
from service.sandbox.omnitron.query import newer
from service.sandbox.omnitron.state import SimState
from service.sandbox.omnitron.store import Table


def pending_updates(state: SimState, table: Table, model: str) -> set[int]:
    """Pks of ``table`` rows that have an integration action of ``model`` for this channel,
    were modified after that action's ``version_date``, and are not held by a batch in flight.
    """
    actions = state.tables.integration_actions
    channel = state.config.channel_id
    pending: set[int] = set()
    held: set[int] = set()
    for pk in actions.lookup("content_type_name", model):
        action = actions.get(pk)
        if action is None or action["channel"] != channel:
            continue
        object_id = action["object_id"]
        if action["status"] == PROCESSING:
            held.add(object_id)
            continue
        row = table.get(object_id)
        if row is not None and newer(row["modified_date"], action["version_date"]):
            pending.add(object_id)
    return pending - held
