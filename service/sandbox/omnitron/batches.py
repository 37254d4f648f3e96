"""Batch requests: the state machine, the commit lock, integration-action bookkeeping."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.sandbox.omnitron.errors import COMMIT_LOCKED, ILLEGAL_TRANSITION, ApiError
from service.sandbox.omnitron.query import as_int
from service.sandbox.omnitron.schema import CONTENT_TYPE_IDS
from service.sandbox.omnitron.state import SimState
from service.sandbox.omnitron.store import Row

INITIALIZED, COMMIT, SENT, ONGOING, DONE, FAIL = (
    "initialized",
    "commit",
    "sent_to_remote",
    "ongoing",
    "done",
    "fail",
)
STATUSES = (INITIALIZED, COMMIT, SENT, ONGOING, DONE, FAIL)
FINAL = frozenset((DONE, FAIL))
# Allowed moves besides "any non-final state → done/fail".
TRANSITIONS: dict[str, frozenset[str]] = {
    INITIALIZED: frozenset((COMMIT,)),
    COMMIT: frozenset((COMMIT, SENT)),
    SENT: frozenset((ONGOING,)),
    ONGOING: frozenset((ONGOING,)),
}
PROCESSING, SUCCESS, ERROR = "processing", "success", "error"
LOCAL_BATCH_ID_MAX = 64


class BatchCreate(BaseModel):
    """Body of ``POST batch_requests/``."""

    model_config = ConfigDict(extra="ignore")

    channel: int | None = None
    content_type: str | None = None
    remote_batch_id: str | None = None
    # The client may choose the id, so it can find the batch again after a lost answer.
    local_batch_id: str | None = Field(None, max_length=LOCAL_BATCH_ID_MAX)


class BatchPatch(BaseModel):
    """Body of ``PATCH batch_requests/{pk}/`` (all fields optional)."""

    model_config = ConfigDict(extra="ignore")

    channel: int | None = None
    status: str | None = None
    objects: list[dict[str, Any]] | None = None
    content_type: str | None = None
    remote_batch_id: str | None = None


def serialize_batch(row: Row) -> dict[str, Any]:
    """A batch request as Omnitron answers it (``content_type`` is the model name)."""
    out = {"pk": row["pk"], "id": row["pk"]}
    out.update({k: v for k, v in row.items() if not k.startswith("_")})
    return out


def create_batch(state: SimState, body: BatchCreate) -> Row:
    """A new batch in ``initialized``, with the client's ``local_batch_id`` or a new one.

    The id is unique: a second batch with the same one is refused (400), as a unique
    model field is.
    """
    if body.content_type is not None and body.content_type not in CONTENT_TYPE_IDS:
        raise ApiError(400, {"content_type": [f'"{body.content_type}" is not a valid choice.']})
    table = state.tables.batch_requests
    pk = table.next_pk
    local_id = body.local_batch_id or str(
        uuid.UUID(int=state.rng("batch", pk).getrandbits(128), version=4)
    )
    if table.lookup("local_batch_id", local_id):
        raise ApiError(
            400, {"local_batch_id": ["batch request with this local batch id already exists."]}
        )
    stamp = state.stamp_iso()
    return table.insert(
        {
            "channel": state.config.channel_id,
            "local_batch_id": local_id,
            "remote_batch_id": body.remote_batch_id,
            "content_type": body.content_type,
            "status": INITIALIZED,
            "objects": None,
            "created_date": stamp,
            "modified_date": stamp,
            "_snapshots": {},
        },
        pk=pk,
    )


def _illegal(current: str, wanted: str) -> ApiError:
    return ApiError(
        406,
        {
            "non_field_errors": [
                f"{ILLEGAL_TRANSITION}: batch request status cannot change "
                f"from {current} to {wanted}."
            ],
            "error_code": ILLEGAL_TRANSITION,
        },
    )


def _object_key(entry: dict[str, Any], default_model: str | None) -> tuple[int, int]:
    """(content type id, object pk) of an ``objects`` entry; 400 when unusable."""
    model = entry.get("content_type") or default_model
    ct = CONTENT_TYPE_IDS.get(str(model)) if model is not None else None
    pk = as_int(entry.get("pk"))
    if ct is None or pk is None:
        raise ApiError(400, {"objects": [f"Invalid object entry: {entry!r}."]})
    return ct, pk


def _validate_objects(objects: list[dict[str, Any]] | None, model: str | None) -> None:
    for entry in objects or []:
        if not isinstance(entry, dict):
            raise ApiError(400, {"objects": ["Each object must be a JSON object."]})
        _object_key(entry, model)


def _merge_objects(
    existing: list[dict[str, Any]] | None, new: list[dict[str, Any]], model: str | None
) -> list[dict[str, Any]]:
    """Objects declared so far plus ``new``; a repeated (content type, pk) is replaced."""
    merged: dict[tuple[int, int], dict[str, Any]] = {}
    for entry in [*(existing or []), *new]:
        merged[_object_key(entry, model)] = entry
    return list(merged.values())


def patch_batch(state: SimState, pk: int, body: BatchPatch) -> Row:
    """Apply a PATCH: check the transition and the lock, then do the bookkeeping."""
    table = state.tables.batch_requests
    batch = table.get(pk)
    if batch is None or batch["channel"] != state.config.channel_id:
        raise ApiError(404, {"detail": "Not found."})
    current, wanted = batch["status"], body.status
    if wanted is not None and wanted not in STATUSES:
        raise ApiError(400, {"status": [f'"{wanted}" is not a valid choice.']})
    if body.content_type is not None and body.content_type not in CONTENT_TYPE_IDS:
        raise ApiError(400, {"content_type": [f'"{body.content_type}" is not a valid choice.']})
    model = body.content_type or batch["content_type"]
    _validate_objects(body.objects, model)
    if wanted is not None:
        if current in FINAL:
            raise _illegal(current, wanted)
        if wanted not in FINAL and wanted not in TRANSITIONS[current]:
            raise _illegal(current, wanted)
        if wanted == COMMIT and current != COMMIT:
            _check_commit_lock(state, batch, model)

    changes: dict[str, Any] = {"modified_date": state.stamp_iso()}
    if body.content_type is not None:
        changes["content_type"] = body.content_type
    if body.remote_batch_id is not None:
        changes["remote_batch_id"] = body.remote_batch_id
    if body.objects is not None:
        changes["objects"] = _merge_objects(batch["objects"], body.objects, model)
    if wanted is not None:
        changes["status"] = wanted
    batch = table.update(pk, changes)
    objects = body.objects or []
    if wanted == COMMIT:
        _commit_actions(state, batch, objects, model)
    elif wanted == DONE:
        _finish_done(state, batch, objects, model)
    elif wanted == FAIL:
        _release(state, batch, keep=set())
    return batch


def _check_commit_lock(state: SimState, batch: Row, model: str | None) -> None:
    for pk in state.tables.batch_requests.lookup("status", COMMIT):
        other = state.tables.batch_requests.get(pk)
        if (
            other is not None
            and other["pk"] != batch["pk"]
            and other["channel"] == batch["channel"]
            and other["content_type"] == model
        ):
            raise ApiError(
                406,
                {
                    "non_field_errors": [
                        f"{COMMIT_LOCKED}: batch request {other['pk']} of content type "
                        f"{model} is already in commit for this channel."
                    ],
                    "error_code": COMMIT_LOCKED,
                },
            )


def _find_action(state: SimState, channel: int, ct: int, object_id: int) -> Row | None:
    table = state.tables.integration_actions
    for pk in sorted(table.lookup("object_key", (ct, object_id))):
        row = table.get(pk)
        if row is not None and row["channel"] == channel:
            return row
    return None


def _remote_id(entry: dict[str, Any]) -> str | None:
    value = entry.get("remote_id")
    return None if value is None or value == "" else str(value)


def _take(state: SimState, batch: Row, ct: int, object_id: int, entry: dict[str, Any]) -> Row:
    """The object's action, created or snapshotted (first touch) for this batch."""
    table = state.tables.integration_actions
    snapshots: dict[str, Any] = batch["_snapshots"]
    action = _find_action(state, batch["channel"], ct, object_id)
    stamp = state.stamp_iso()
    if action is None:
        action = table.insert(
            {
                "channel": batch["channel"],
                "content_type": ct,
                "object_id": object_id,
                "remote_id": _remote_id(entry),
                "version_date": None,
                "local_batch_id": batch["local_batch_id"],
                "status": PROCESSING,
                "state": {},
                "created_date": stamp,
                "modified_date": stamp,
            }
        )
        snapshots.setdefault(str(action["pk"]), None)
    elif str(action["pk"]) not in snapshots:
        snapshots[str(action["pk"])] = {
            key: action[key] for key in ("status", "remote_id", "version_date", "local_batch_id")
        }
    state.tables.batch_requests.update(batch["pk"], {"_snapshots": snapshots})
    return action


def _commit_actions(
    state: SimState, batch: Row, objects: list[dict[str, Any]], model: str | None
) -> None:
    """Committed objects' actions become ``processing`` under this batch."""
    for entry in objects:
        ct, object_id = _object_key(entry, model)
        action = _take(state, batch, ct, object_id, entry)
        changes: dict[str, Any] = {
            "status": PROCESSING,
            "local_batch_id": batch["local_batch_id"],
            "modified_date": state.stamp_iso(),
        }
        if (remote := _remote_id(entry)) is not None:
            changes["remote_id"] = remote
        state.tables.integration_actions.update(action["pk"], changes)


def _version_of(state: SimState, ct: int, object_id: int) -> str | None:
    """The object's current ``modified_date`` (used when a done entry has no version)."""
    table = {
        CONTENT_TYPE_IDS["order"]: state.tables.orders,
        CONTENT_TYPE_IDS["orderitem"]: state.tables.order_items,
        CONTENT_TYPE_IDS["cancellationrequest"]: state.tables.cancellation_requests,
        CONTENT_TYPE_IDS["customer"]: state.tables.customers,
        CONTENT_TYPE_IDS["product"]: state.tables.products,
    }.get(ct)
    row = table.get(object_id) if table is not None else None
    return row.get("modified_date") if row is not None else None


def _finish_done(
    state: SimState, batch: Row, objects: list[dict[str, Any]], model: str | None
) -> None:
    """Listed objects succeed or fail; the batch's other processing actions roll back."""
    listed: set[int] = set()
    for entry in objects:
        ct, object_id = _object_key(entry, model)
        action = _take(state, batch, ct, object_id, entry)
        changes: dict[str, Any] = {
            "local_batch_id": batch["local_batch_id"],
            "modified_date": state.stamp_iso(),
        }
        if entry.get("failed_reason_type"):
            changes["status"] = ERROR
        else:
            changes["status"] = SUCCESS
            if (remote := _remote_id(entry)) is not None:
                changes["remote_id"] = remote
            version = entry.get("version_date") or _version_of(state, ct, object_id)
            changes["version_date"] = version
        state.tables.integration_actions.update(action["pk"], changes)
        listed.add(action["pk"])
    _release(state, batch, keep=listed)


def _release(state: SimState, batch: Row, keep: set[int]) -> None:
    """Every ``processing`` action of the batch not in ``keep`` goes back to its old self."""
    table = state.tables.integration_actions
    snapshots: dict[str, Any] = batch["_snapshots"]
    for pk in sorted(table.lookup("local_batch_id", batch["local_batch_id"])):
        action = table.get(pk)
        if action is None or pk in keep or action["status"] != PROCESSING:
            continue
        snapshot = snapshots.get(str(pk))
        changes: dict[str, Any] = {"modified_date": state.stamp_iso()}
        if snapshot is None:
            changes["status"] = ERROR  # created by this batch: nothing to go back to
        else:
            changes.update(snapshot)
        table.update(pk, changes)
