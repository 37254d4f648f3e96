"""``POST integration_actions/``: the link a channel app creates for an existing object.

Akinon's channel app creates a product's integration action with this body
(docs/omnitron-api.md §9): ``content_type`` (a model name), ``channel_id``,
``object_id``, ``remote_id``, ``version_date`` and ``state``. The simulator checks it
as a DRF serializer would — every problem is a 400 with ``{"field": ["message"]}`` —
and keeps one action per (channel, content type, object), Django's unique-together
answer for a second one. The new action counts at once: a lookup by
``remote_id__in`` finds it.
"""

from __future__ import annotations

from typing import Any

from service.sandbox.omnitron.errors import ApiError, field_error, invalid_pk
from service.sandbox.omnitron.formats import iso, parse_datetime
from service.sandbox.omnitron.query import as_int
from service.sandbox.omnitron.schema import CONTENT_TYPE_IDS, CONTENT_TYPE_NAMES
from service.sandbox.omnitron.state import SimState
from service.sandbox.omnitron.store import Row, Table

STATUSES = ("processing", "success", "error")
REMOTE_ID_MAX = 255
UNIQUE_SET = "The fields channel, content_type, object_id must make a unique set."


def create_action(state: SimState, channel_id: int, body: Any) -> Row:
    """Validate ``body`` and store the new action (``success`` unless told otherwise)."""
    if not isinstance(body, dict):
        raise ApiError(
            400,
            {
                "non_field_errors": [
                    f"Invalid data. Expected a dictionary, but got {type(body).__name__}."
                ]
            },
        )
    errors: dict[str, list[str]] = {}
    ct = _content_type(body.get("content_type", body.get("content_type_id")), errors)
    channel = body.get("channel_id", body.get("channel", channel_id))
    if as_int(channel) != channel_id:
        errors.setdefault("channel", []).append(f'Invalid pk "{channel}" - object does not exist.')
    object_id = as_int(body.get("object_id"))
    if body.get("object_id") in (None, ""):
        errors.setdefault("object_id", []).append("This field is required.")
    elif object_id is None:
        errors.setdefault("object_id", []).append("A valid integer is required.")
    remote_id = body.get("remote_id")
    if remote_id is None or str(remote_id).strip() == "":
        errors.setdefault("remote_id", []).append("This field may not be blank.")
    elif len(str(remote_id)) > REMOTE_ID_MAX:
        errors.setdefault("remote_id", []).append(
            f"Ensure this field has no more than {REMOTE_ID_MAX} characters."
        )
    version = body.get("version_date")
    moment = parse_datetime(version)
    if version not in (None, "") and moment is None:
        errors.setdefault("version_date", []).append(
            "Datetime has wrong format. Use one of these formats instead: "
            "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
        )
    status = body.get("status", "success")
    if status not in STATUSES:
        errors.setdefault("status", []).append(f'"{status}" is not a valid choice.')
    action_state = body.get("state", {})
    if action_state is None:
        action_state = {}
    if not isinstance(action_state, dict):
        errors.setdefault("state", []).append("Value must be valid JSON.")
    if errors:
        raise ApiError(400, errors)
    assert ct is not None
    assert object_id is not None
    table = _objects(state, ct)
    if table is None:
        raise field_error(
            "content_type", f"Integration actions of {CONTENT_TYPE_NAMES[ct]} cannot be created."
        )
    if table.get(object_id) is None:
        raise invalid_pk("object_id", object_id)
    actions = state.tables.integration_actions
    for pk in actions.lookup("object_key", (ct, object_id)):
        row = actions.get(pk)
        if row is not None and row["channel"] == channel_id:
            raise ApiError(400, {"non_field_errors": [UNIQUE_SET]})
    stamp = state.stamp_iso()
    return actions.insert(
        {
            "channel": channel_id,
            "content_type": ct,
            "object_id": object_id,
            "remote_id": str(remote_id).strip(),
            "version_date": iso(moment) if moment is not None else None,
            "local_batch_id": None,
            "status": status,
            "state": action_state,
            "created_date": stamp,
            "modified_date": stamp,
        }
    )


def _content_type(value: Any, errors: dict[str, list[str]]) -> int | None:
    """A content type given by model name (as the channel app sends it) or by id."""
    if value is None or value == "":
        errors.setdefault("content_type", []).append("This field is required.")
        return None
    if isinstance(value, dict):
        value = value.get("id", value.get("model"))
    pk = as_int(value)
    if pk is not None and pk in CONTENT_TYPE_NAMES:
        return pk
    if isinstance(value, str) and value.strip().lower() in CONTENT_TYPE_IDS:
        return CONTENT_TYPE_IDS[value.strip().lower()]
    errors.setdefault("content_type", []).append(f"Object with model={value} does not exist.")
    return None


def _objects(state: SimState, ct: int) -> Table | None:
    """The table whose rows actions of content type ``ct`` may point at."""
    t = state.tables
    return {
        CONTENT_TYPE_IDS["product"]: t.products,
        CONTENT_TYPE_IDS["order"]: t.orders,
        CONTENT_TYPE_IDS["orderitem"]: t.order_items,
        CONTENT_TYPE_IDS["cancellationrequest"]: t.cancellation_requests,
    }.get(ct)
