"""Routes for customers, addresses and the location tree (country → district)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.sandbox.omnitron.api_common import check_channel, get_or_404, list_answer
from service.sandbox.omnitron.customers import (
    AddressBody,
    CustomerBody,
    create_address,
    create_customer,
    patch_customer,
)
from service.sandbox.omnitron.query import Field, Fields, column
from service.sandbox.omnitron.state import SimState
from service.sandbox.omnitron.store import Row, public

# Declared filter sets (docs/omnitron-api.md §9); every other parameter is ignored.
_pk = column("pk", "int", ("exact", "in"))
_dates = ("exact", "gt", "gte", "lt", "lte")
# Akinon's API docs list these for customers: ``email`` (exact, startswith), ``channel``
# (a multiple choice), ``channel_code``, ``phone_number``, ``pk__in``, names, dates.
CUSTOMER_FIELDS: Fields = {
    "pk": _pk,
    "channel": column("channel", "int", multiple=True),
    "email": column("email", "str", ("exact", "startswith")),
    "phone_number": column("phone_number"),
    "first_name": column("first_name"),
    "last_name": column("last_name"),
    "channel_code": column("channel_code"),
    "created_date": column("created_date", "date", _dates),
    "modified_date": column("modified_date", "date", _dates),
}
ADDRESS_FIELDS: Fields = {"hash_data": column("hash_data")}


def _mapping(part: str) -> Field:
    return Field(lambda row: [m.get(part) for m in row.get("mapping") or []], many=True)


def _location_fields(**parents: str) -> Fields:
    """What Akinon's channel app looks locations up by: name, code, parents, mapping."""
    fields: dict[str, Field] = {
        "name": column("name", "str", ("exact", "iexact")),
        "is_active": column("is_active", "bool"),
        "mapping__code": _mapping("code"),
        "mapping__integration_type": _mapping("integration_type"),
    }
    fields.update({name: column(name, "int") for name in parents})
    return fields


COUNTRY_FIELDS: Fields = {**_location_fields(), "code": column("code")}
CITY_FIELDS: Fields = _location_fields(country="int")
TOWNSHIP_FIELDS: Fields = _location_fields(country="int", city="int")
DISTRICT_FIELDS: Fields = _location_fields(country="int", city="int", township="int")


def _location(row: Row) -> dict[str, Any]:
    out = public(row)
    out.pop("mapping", None)
    return out


def build_party_router(state: SimState) -> APIRouter:
    """Customers, addresses and locations under ``channel/{id}/``."""
    router = APIRouter(prefix="/channel/{channel_id}", tags=["customers and addresses"])
    t = state.tables

    @router.get("/customers/")
    def list_customers(channel_id: int, request: Request) -> dict[str, Any]:
        """Customers; looked up by ``email`` or ``phone_number`` plus ``channel``."""
        with state.transaction():
            check_channel(state, channel_id)
            return list_answer(request, t.customers, CUSTOMER_FIELDS)

    @router.post("/customers/", status_code=201)
    def post_customer(channel_id: int, body: CustomerBody) -> JSONResponse:
        """Create a customer."""
        with state.transaction():
            check_channel(state, channel_id)
            return JSONResponse(public(create_customer(state, body)), status_code=201)

    @router.get("/customers/{pk}/")
    def get_customer(channel_id: int, pk: int) -> dict[str, Any]:
        """One customer."""
        with state.transaction():
            check_channel(state, channel_id)
            return public(get_or_404(t.customers, pk))

    @router.patch("/customers/{pk}/")
    def update_customer(channel_id: int, pk: int, body: CustomerBody) -> dict[str, Any]:
        """Partial update of a customer."""
        with state.transaction():
            check_channel(state, channel_id)
            return public(patch_customer(state, pk, body))

    @router.get("/addresses/")
    def list_addresses(channel_id: int, request: Request) -> dict[str, Any]:
        """Addresses; ``?hash_data=`` finds the twin of a refused duplicate."""
        with state.transaction():
            check_channel(state, channel_id)
            return list_answer(request, t.addresses, ADDRESS_FIELDS)

    @router.post("/addresses/", status_code=201)
    def post_address(channel_id: int, body: AddressBody) -> JSONResponse:
        """Create an address (400 ``hash_data:<hash> ...`` when it already exists)."""
        with state.transaction():
            check_channel(state, channel_id)
            row = create_address(state, body.model_dump())
            return JSONResponse(public(row), status_code=201)

    @router.get("/addresses/{pk}/")
    def get_address(channel_id: int, pk: int) -> dict[str, Any]:
        """One address."""
        with state.transaction():
            check_channel(state, channel_id)
            return public(get_or_404(t.addresses, pk))

    locations = (
        ("countries", t.countries, COUNTRY_FIELDS),
        ("cities", t.cities, CITY_FIELDS),
        ("townships", t.townships, TOWNSHIP_FIELDS),
        ("districts", t.districts, DISTRICT_FIELDS),
    )
    for name, table, fields in locations:
        _add_location_routes(router, state, name, table, fields)
    return router


def _add_location_routes(
    router: APIRouter, state: SimState, name: str, table: Any, fields: Fields
) -> None:
    def list_locations(channel_id: int, request: Request) -> dict[str, Any]:
        with state.transaction():
            check_channel(state, channel_id)
            return list_answer(request, table, fields, _location)

    def get_location(channel_id: int, pk: int) -> dict[str, Any]:
        with state.transaction():
            check_channel(state, channel_id)
            return _location(get_or_404(table, pk))

    router.add_api_route(
        f"/{name}/",
        list_locations,
        methods=["GET"],
        name=f"list_{name}",
        summary=f"List {name} (exact, iexact with Turkish folding, mapping codes)",
    )
    router.add_api_route(
        f"/{name}/{{pk}}/",
        get_location,
        methods=["GET"],
        name=f"get_{name}",
        summary=f"One of {name}",
    )
