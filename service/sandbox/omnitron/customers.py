"""Customers and addresses (addresses are deduplicated by a hash of their content)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from service.sandbox.omnitron.errors import ApiError, not_found
from service.sandbox.omnitron.query import as_int
from service.sandbox.omnitron.state import SimState
from service.sandbox.omnitron.store import Row, Table

_CUSTOMER_TEXT = {
    "email": 254,
    "phone_number": 128,
    "first_name": 255,
    "last_name": 255,
    "channel_code": 256,
}
_ADDRESS_TEXT = {
    "email": 254,
    "phone_number": 128,
    "first_name": 255,
    "last_name": 255,
    "title": 128,
    "line": 255,
    "postcode": 64,
    "notes": 512,
    "company_name": 255,
    "tax_office": 64,
    "tax_no": 20,
    "remote_id": 256,
    "identity_number": 64,
    "address_type": 32,
}
# Content that identifies an address (remote id and extra data do not).
_HASHED = (
    "customer",
    "country",
    "city",
    "township",
    "district",
    "retail_store",
    "email",
    "phone_number",
    "first_name",
    "last_name",
    "title",
    "line",
    "postcode",
    "notes",
    "company_name",
    "tax_office",
    "tax_no",
    "e_bill_taxpayer",
    "identity_number",
    "address_type",
)


class CustomerBody(BaseModel):
    """Body of ``POST``/``PATCH customers/`` (PATCH is partial)."""

    model_config = ConfigDict(extra="ignore")

    channel: Any = None
    email: str | None = None
    phone_number: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    extra_field: dict[str, Any] | None = None
    channel_code: str | None = None
    is_active: bool | None = None


class AddressBody(BaseModel):
    """Body of ``POST addresses/``."""

    model_config = ConfigDict(extra="allow")


def _texts(data: dict[str, Any], limits: dict[str, int], errors: dict[str, list[str]]) -> dict:
    out: dict[str, Any] = {}
    for name, limit in limits.items():
        if name not in data:
            continue
        value = data[name]
        text = None if value is None else str(value)
        if text is not None and len(text) > limit:
            errors[name] = [f"Ensure this field has no more than {limit} characters."]
        out[name] = text
    return out


def _check_email(email: str | None, errors: dict[str, list[str]]) -> None:
    if email and ("@" not in email or email.startswith("@") or email.endswith("@")):
        errors["email"] = ["Enter a valid email address."]


def _channel(state: SimState, data: dict[str, Any], errors: dict[str, list[str]]) -> None:
    if data.get("channel") not in (None, "") and as_int(data["channel"]) != state.config.channel_id:
        errors["channel"] = [f'Invalid pk "{data["channel"]}" - object does not exist.']


def create_customer(state: SimState, body: CustomerBody) -> Row:
    """A new customer of the channel; needs an e-mail or a phone number."""
    data = body.model_dump()
    errors: dict[str, list[str]] = {}
    fields = _texts(data, _CUSTOMER_TEXT, errors)
    _channel(state, data, errors)
    _check_email(fields.get("email"), errors)
    if not fields.get("email") and not fields.get("phone_number"):
        errors.setdefault("email", []).append("An e-mail address or a phone number is required.")
    if errors:
        raise ApiError(400, errors)
    stamp = state.stamp_iso()
    return state.tables.customers.insert(
        {
            **{name: fields.get(name) or "" for name in _CUSTOMER_TEXT},
            "channel": state.config.channel_id,
            "extra_field": data.get("extra_field") or {},
            "is_active": True if body.is_active is None else body.is_active,
            "created_date": stamp,
            "modified_date": stamp,
        }
    )


def patch_customer(state: SimState, pk: int, body: CustomerBody) -> Row:
    """Partial update of a customer."""
    if state.tables.customers.get(pk) is None:
        raise not_found()
    data = body.model_dump(exclude_unset=True)
    errors: dict[str, list[str]] = {}
    changes = _texts(data, _CUSTOMER_TEXT, errors)
    _channel(state, data, errors)
    _check_email(changes.get("email"), errors)
    if errors:
        raise ApiError(400, errors)
    changes = {k: v or "" for k, v in changes.items()}
    if "extra_field" in data:
        changes["extra_field"] = data["extra_field"] or {}
    if data.get("is_active") is not None:
        changes["is_active"] = data["is_active"]
    changes["modified_date"] = state.stamp_iso()
    return state.tables.customers.update(pk, changes)


def _ref(
    data: dict[str, Any], name: str, table: Table, errors: dict[str, list[str]], required: bool
) -> int | None:
    raw = data.get(name)
    if raw is None or raw == "":
        if required:
            errors[name] = ["This field is required."]
        return None
    pk = as_int(raw)
    if pk is None or table.get(pk) is None:
        errors[name] = [f'Invalid pk "{raw}" - object does not exist.']
        return None
    return pk


def address_hash(fields: dict[str, Any]) -> str:
    """The content hash Omnitron deduplicates addresses by (hex, no ``:``)."""
    canonical = json.dumps([fields.get(name) for name in _HASHED], ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:40]


def create_address(state: SimState, data: dict[str, Any]) -> Row:
    """Store an address, or answer 400 ``hash_data:<hash> ...`` for a duplicate."""
    t = state.tables
    errors: dict[str, list[str]] = {}
    fields: dict[str, Any] = {name: "" for name in _ADDRESS_TEXT}
    fields.update({k: v or "" for k, v in _texts(data, _ADDRESS_TEXT, errors).items()})
    fields["address_type"] = fields["address_type"] or "customer"
    fields["customer"] = _ref(data, "customer", t.customers, errors, required=True)
    fields["country"] = _ref(data, "country", t.countries, errors, required=True)
    fields["city"] = _ref(data, "city", t.cities, errors, required=True)
    fields["township"] = _ref(data, "township", t.townships, errors, required=False)
    fields["district"] = _ref(data, "district", t.districts, errors, required=False)
    fields["retail_store"] = _ref(data, "retail_store", t.retail_stores, errors, required=False)
    fields["e_bill_taxpayer"] = bool(data.get("e_bill_taxpayer") or False)
    city = t.cities.get(fields["city"] or 0)
    if city is not None and fields["country"] is not None and city["country"] != fields["country"]:
        errors["city"] = ["City does not belong to the country."]
    township = t.townships.get(fields["township"] or 0)
    if township is not None and city is not None and township["city"] != city["pk"]:
        errors["township"] = ["Township does not belong to the city."]
    district = t.districts.get(fields["district"] or 0)
    if district is not None and township is not None and district["township"] != township["pk"]:
        errors["district"] = ["District does not belong to the township."]
    if not fields["line"]:
        errors["line"] = ["This field may not be blank."]
    if errors:
        raise ApiError(400, errors)
    digest = address_hash(fields)
    if t.addresses.lookup("hash_data", digest):
        # A string, not a list: the reference client splits it on whitespace.
        raise ApiError(
            400, {"non_field_errors": f"hash_data:{digest} address with this hash already exists."}
        )
    stamp = state.stamp_iso()
    extra = data.get("extra_field")
    return t.addresses.insert(
        {
            **fields,
            "hash_data": digest,
            "extra_field": extra if isinstance(extra, dict) else {},
            "is_active": True,
            "created_date": stamp,
            "modified_date": stamp,
        }
    )
