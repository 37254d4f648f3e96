"""Orders and order items: creation in one call, item updates, cancellation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.sandbox.omnitron.errors import ApiError, invalid_pk, not_found
from service.sandbox.omnitron.formats import iso, money, parse_datetime
from service.sandbox.omnitron.query import as_int
from service.sandbox.omnitron.state import STATUS_APPROVED, STATUS_CANCELLED, SimState
from service.sandbox.omnitron.store import Row, Table

ORDER_STATUSES = frozenset(
    ("50", "100", "200", "300", "350", "400", "450", "500", "510", "520", "540", "550", "600")
)
_ORDER_TEXT = {
    "currency": 8,
    "delivery_type": 64,
    "tracking_number": 256,
    "carrier_shipping_code": 256,
    "remote_addr": 64,
    "gift_box_note": 160,
    "client_type": 64,
    "language_code": 16,
    "notes": 320,
    "delivery_range": 128,
    "shipping_option_slug": 128,
}
_ORDER_AMOUNTS = (
    "amount",
    "shipping_amount",
    "shipping_tax_rate",
    "discount_amount",
    "net_shipping_amount",
)
_ITEM_TEXT = {"price_currency": 8, "tracking_number": 256, "carrier_shipping_code": 256}
_ITEM_AMOUNTS = ("price", "tax_rate", "discount_amount", "retail_price")


class CreateOrdersBody(BaseModel):
    """Body of ``POST create_orders/``: the order and its items (one per unit)."""

    model_config = ConfigDict(extra="ignore")

    order: dict[str, Any]
    order_item: list[dict[str, Any]]


class ItemPatch(BaseModel):
    """Body of ``PATCH order_items/{pk}/`` (partial)."""

    model_config = ConfigDict(extra="ignore")

    status: str | None = None
    invoice_number: str | None = None
    invoice_date: str | None = None
    tracking_number: str | None = None
    carrier_shipping_code: str | None = None
    extra_field: dict[str, Any] | None = None


class CancelBody(BaseModel):
    """Body of ``POST orders/{pk}/cancel/``."""

    model_config = ConfigDict(extra="ignore")

    order: int | None = None
    cancel_items: list[int] = Field(default_factory=list)
    reasons: dict[str, Any] = Field(default_factory=dict)
    forced_refund_amount: Any = None


class _Errors:
    """Collects DRF-style field errors, raised together."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, []).append(message)


def _text(data: dict[str, Any], name: str, limit: int, errors: _Errors) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    text = str(value)
    if len(text) > limit:
        errors.add(name, f"Ensure this field has no more than {limit} characters.")
    return text


def _amount(data: dict[str, Any], name: str, errors: _Errors, required: bool = False) -> Any:
    value = data.get(name)
    if value is None or value == "":
        if required:
            errors.add(name, "This field is required.")
        return None
    try:
        return money(value)
    except ValueError:
        errors.add(name, "A valid number is required.")
        return None


def _ref(data: dict[str, Any], name: str, table: Table, errors: _Errors, required: bool) -> Any:
    raw = data.get(name)
    if raw is None or raw == "":
        if required:
            errors.add(name, "This field may not be null.")
        return None
    pk = as_int(raw)
    if pk is None:
        errors.add(name, f"Incorrect type. Expected pk value, received {type(raw).__name__}.")
        return None
    if table.get(pk) is None:
        errors.add(name, f'Invalid pk "{raw}" - object does not exist.')
    return pk


def _date(data: dict[str, Any], name: str, errors: _Errors) -> str | None:
    raw = data.get(name)
    if raw is None or raw == "":
        return None
    moment = parse_datetime(raw)
    if moment is None:
        errors.add(name, "Datetime has wrong format.")
        return None
    return iso(moment)


def _json_object(data: dict[str, Any], name: str, errors: _Errors) -> dict[str, Any]:
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.add(name, "Must be a JSON object.")
        return {}
    return value


def _status(data: dict[str, Any], errors: _Errors) -> str:
    raw = data.get("status")
    status = STATUS_APPROVED if raw is None or raw == "" else str(raw)
    if status not in ORDER_STATUSES:
        errors.add("status", f'"{raw}" is not a valid choice.')
    return status


def _order_fields(state: SimState, data: dict[str, Any], errors: _Errors) -> dict[str, Any]:
    t = state.tables
    number = data.get("number")
    if number is None or str(number).strip() == "":
        errors.add("number", "This field is required.")
    elif len(str(number)) > 128:
        errors.add("number", "Ensure this field has no more than 128 characters.")
    elif t.orders.lookup("number", str(number)):
        # A number is unique within its channel (docs/omnitron-api.md §9), and the
        # simulator serves one channel; the answer is DRF's unique-together refusal.
        errors.add("non_field_errors", "The fields number, channel must make a unique set.")
    channel = as_int(data.get("channel", state.config.channel_id))
    if channel != state.config.channel_id:
        errors.add("channel", f'Invalid pk "{data.get("channel")}" - object does not exist.')
    fields: dict[str, Any] = {
        "number": None if number is None else str(number),
        "channel": state.config.channel_id,
        "status": _status(data, errors),
        "customer": _ref(data, "customer", t.customers, errors, required=True),
        "shipping_address": _ref(data, "shipping_address", t.addresses, errors, required=True),
        "billing_address": _ref(data, "billing_address", t.addresses, errors, required=True),
        "cargo_company": _ref(data, "cargo_company", t.cargos, errors, required=False),
        "extra_field": _json_object(data, "extra_field", errors),
        "has_gift_box": bool(data.get("has_gift_box") or False),
        "date_placed": _date(data, "date_placed", errors),
    }
    for name in _ORDER_AMOUNTS:
        fields[name] = _amount(data, name, errors, required=name == "amount")
    for name, limit in _ORDER_TEXT.items():
        fields[name] = _text(data, name, limit, errors)
    fields["currency"] = fields["currency"] or "try"
    return fields


def _item_fields(state: SimState, data: dict[str, Any], errors: _Errors) -> dict[str, Any]:
    t = state.tables
    fields: dict[str, Any] = {
        "product": _ref(data, "product", t.products, errors, required=True),
        "status": _status(data, errors),
        "extra_field": _json_object(data, "extra_field", errors),
        "price_list": as_int(data.get("price_list")),
        "stock_list": as_int(data.get("stock_list")),
        "attributes": _json_object(data, "attributes", errors),
        "attributes_kwargs": _json_object(data, "attributes_kwargs", errors),
        "parent": as_int(data.get("parent")),
        "delivered_date": _date(data, "delivered_date", errors),
        "estimated_delivery_date": _date(data, "estimated_delivery_date", errors),
        "invoice_number": None,
        "invoice_date": None,
        "cancellation_reason": None,
    }
    for name in _ITEM_AMOUNTS:
        fields[name] = _amount(data, name, errors, required=name == "price")
    for name, limit in _ITEM_TEXT.items():
        fields[name] = _text(data, name, limit, errors)
    fields["price_currency"] = fields["price_currency"] or "try"
    return fields


def create_order(state: SimState, body: CreateOrdersBody) -> Row:
    """Validate everything first, then store the order and one item per entry."""
    order_errors = _Errors()
    order_fields = _order_fields(state, body.order, order_errors)
    item_errors: list[dict[str, list[str]]] = []
    items: list[dict[str, Any]] = []
    for entry in body.order_item:
        errors = _Errors()
        items.append(_item_fields(state, entry if isinstance(entry, dict) else {}, errors))
        item_errors.append(errors.fields)
    problems: dict[str, Any] = {}
    if order_errors.fields:
        problems["order"] = order_errors.fields
    if not body.order_item:
        problems["order_item"] = ["This list may not be empty."]
    elif any(item_errors):
        problems["order_item"] = item_errors
    if problems:
        raise ApiError(400, problems)

    stamp = state.stamp_iso()
    dates = {"created_date": stamp, "modified_date": stamp}
    order = state.tables.orders.insert({**order_fields, **dates})
    for item in items:
        state.tables.order_items.insert({"order": order["pk"], **item, **dates})
    state.schedule(order)
    return order


def patch_item(state: SimState, pk: int, body: ItemPatch) -> Row:
    """Partial update of an order item (``extra_field`` is replaced as a whole)."""
    item = state.tables.order_items.get(pk)
    if item is None:
        raise not_found()
    errors = _Errors()
    data = body.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {}
    if "status" in data:
        changes["status"] = _status(data, errors)
    if "invoice_date" in data:
        changes["invoice_date"] = _date(data, "invoice_date", errors)
    for name, limit in (("invoice_number", 256), ("tracking_number", 256)):
        if name in data:
            changes[name] = _text(data, name, limit, errors)
    if "carrier_shipping_code" in data:
        changes["carrier_shipping_code"] = _text(data, "carrier_shipping_code", 256, errors)
    if "extra_field" in data:
        changes["extra_field"] = data["extra_field"] or {}
    if errors.fields:
        raise ApiError(400, errors.fields)
    if changes:
        changes["modified_date"] = state.stamp_iso()
        item = state.tables.order_items.update(pk, changes)
    return item


def cancel_order(state: SimState, order_pk: int, body: CancelBody) -> Row:
    """Cancel the listed items with their reasons; all items cancelled cancels the order."""
    t = state.tables
    order = t.orders.get(order_pk)
    if order is None:
        raise not_found()
    if body.order is not None and body.order != order_pk:
        raise ApiError(400, {"order": ["Does not match the order in the URL."]})
    if not body.cancel_items:
        raise ApiError(400, {"cancel_items": ["This list may not be empty."]})
    own = t.order_items.lookup("order", order_pk)
    reasons: dict[int, int | None] = {}
    for item_pk in body.cancel_items:
        if item_pk not in own:
            raise ApiError(
                400, {"cancel_items": [f"Order item {item_pk} does not belong to this order."]}
            )
        item = t.order_items.get(item_pk)
        if item is not None and item["status"] == STATUS_CANCELLED:
            raise ApiError(400, {"cancel_items": [f"Order item {item_pk} is already cancelled."]})
        raw = body.reasons.get(str(item_pk))
        reason = as_int(raw)
        if raw is not None and (reason is None or t.cancellation_reasons.get(reason) is None):
            raise invalid_pk("reasons", raw)
        reasons[item_pk] = reason
    if body.forced_refund_amount not in (None, ""):
        try:
            money(body.forced_refund_amount)
        except ValueError:
            raise ApiError(400, {"forced_refund_amount": ["A valid number is required."]}) from None
    stamp = state.stamp_iso()
    for item_pk, reason in reasons.items():
        t.order_items.update(
            item_pk,
            {"status": STATUS_CANCELLED, "cancellation_reason": reason, "modified_date": stamp},
        )
    remaining = [
        pk for pk in own if (row := t.order_items.get(pk)) and row["status"] != STATUS_CANCELLED
    ]
    changes: dict[str, Any] = {"modified_date": stamp}
    if not remaining:
        changes["status"] = STATUS_CANCELLED
    return t.orders.update(order_pk, changes)


def require(table: Table, pk: int, check: Callable[[Row], bool] | None = None) -> Row:
    """The row (optionally passing ``check``) or a 404."""
    row = table.get(pk)
    if row is None or (check is not None and not check(row)):
        raise not_found()
    return row
