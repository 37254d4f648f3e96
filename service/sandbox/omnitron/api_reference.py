"""Login and the read-only reference data: channel, catalog, content types, products, ..."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from starlette.datastructures import QueryParams

from service.sandbox.omnitron.api_common import check_channel, get_or_404, list_answer
from service.sandbox.omnitron.errors import ApiError
from service.sandbox.omnitron.query import Field, Fields, column
from service.sandbox.omnitron.state import SimState
from service.sandbox.omnitron.store import public


class LoginBody(BaseModel):
    """Body of ``POST auth/login/``."""

    model_config = ConfigDict(extra="ignore")

    username: str = ""
    password: str = ""


def _id_fields(**extra: Field) -> dict[str, Field]:
    return {"pk": column("pk", "int", ("exact", "in")), **extra}


# Declared filter sets (docs/omnitron-api.md §9); every other parameter is ignored.
CONTENT_TYPE_FIELDS: Fields = _id_fields(model=column("model"))
PRODUCT_FIELDS: Fields = _id_fields(
    # Akinon's API docs (SalesChannelProduct): ``sku`` (case-insensitive), ``sku__exact``,
    # ``sku__in``, ``name``, ``base_code``. A barcode attribute or a part of the name
    # cannot be searched for: nothing shows Omnitron declares such filters.
    sku=column("sku", "str", ("exact", "iexact", "in")),
    name=column("name"),
    base_code=column("base_code"),
)
PRICE_FIELDS: Fields = _id_fields()
STOCK_FIELDS: Fields = _id_fields()
CARGO_FIELDS: Fields = _id_fields(erp_code=column("erp_code"))
STORE_FIELDS: Fields = _id_fields(erp_code=column("erp_code"))
REASON_FIELDS: Fields = _id_fields()
CHANNEL_FIELDS: Fields = _id_fields()


def build_login_router(state: SimState) -> APIRouter:
    """``POST auth/login/`` (no auth needed)."""
    router = APIRouter(tags=["auth"])

    @router.post("/auth/login/")
    def login(body: LoginBody) -> dict[str, Any]:
        """Exchange username and password for a token ``key``."""
        config = state.config
        if body.username != config.username or body.password != config.password:
            raise ApiError(
                400, {"non_field_errors": ["Unable to log in with provided credentials."]}
            )
        with state.lock:
            return {"key": state.issue_token()}

    return router


def build_reference_router(state: SimState) -> APIRouter:
    """Read-only resources the flows look up."""
    router = APIRouter(tags=["reference data"])
    t = state.tables

    @router.get("/active_user/")
    def active_user() -> dict[str, Any]:
        """The logged-in user (the SDK validates a cached token with it)."""
        return {
            "pk": 1,
            "id": 1,
            "username": state.config.username,
            "email": f"{state.config.username}@sandbox.local",
            "first_name": "Sandbox",
            "last_name": "User",
            "is_active": True,
            "is_staff": True,
        }

    @router.get("/channels/")
    def list_channels(request: Request) -> dict[str, Any]:
        """Channels (just the simulated one)."""
        with state.transaction():
            return list_answer(request, t.channels, CHANNEL_FIELDS)

    @router.get("/channels/{pk}/")
    def get_channel(pk: int) -> dict[str, Any]:
        """The channel with ``is_active`` and ``conf``."""
        with state.transaction():
            return public(get_or_404(t.channels, pk))

    @router.get("/catalogs/{pk}/")
    def get_catalog(pk: int) -> dict[str, Any]:
        """The catalog with its default ``price_list`` and ``stock_list``."""
        with state.transaction():
            return public(get_or_404(t.catalogs, pk))

    @router.get("/content_types/")
    def list_content_types(request: Request) -> dict[str, Any]:
        """Content types; ``?model=`` picks one."""
        with state.transaction():
            return list_answer(request, t.content_types, CONTENT_TYPE_FIELDS)

    @router.get("/content_types/{pk}/")
    def get_content_type(pk: int) -> dict[str, Any]:
        """One content type."""
        with state.transaction():
            return public(get_or_404(t.content_types, pk))

    @router.get("/products/")
    def list_products(request: Request) -> dict[str, Any]:
        """Products of the catalogue."""
        with state.transaction():
            return list_answer(request, t.products, PRODUCT_FIELDS)

    @router.get("/products/{pk}/")
    def get_product(pk: int) -> dict[str, Any]:
        """One product."""
        with state.transaction():
            return public(get_or_404(t.products, pk))

    prefix = "/channel/{channel_id}"

    @router.get(prefix + "/products/")
    def list_channel_products(channel_id: int, request: Request) -> dict[str, Any]:
        """Products of the channel's catalogue; a plain ``sku`` matches case-insensitively."""
        # Omnitron documents ``sku`` as case-insensitive, ``sku__exact`` as exact.
        params = QueryParams(
            [("sku__iexact" if k == "sku" else k, v) for k, v in request.query_params.multi_items()]
        )
        with state.transaction():
            check_channel(state, channel_id)
            return list_answer(request, t.products, PRODUCT_FIELDS, params=params)

    @router.get(prefix + "/product_prices/")
    def list_prices(channel_id: int, request: Request) -> dict[str, Any]:
        """Price-list entries of the products."""
        with state.transaction():
            check_channel(state, channel_id)
            return list_answer(request, t.product_prices, PRICE_FIELDS)

    @router.get(prefix + "/product_stocks/")
    def list_stocks(channel_id: int, request: Request) -> dict[str, Any]:
        """Stock-list entries of the products."""
        with state.transaction():
            check_channel(state, channel_id)
            return list_answer(request, t.product_stocks, STOCK_FIELDS)

    @router.get(prefix + "/cargos/")
    def list_cargos(channel_id: int, request: Request) -> dict[str, Any]:
        """Cargo companies (``erp_code`` identifies them)."""
        with state.transaction():
            check_channel(state, channel_id)
            return list_answer(request, t.cargos, CARGO_FIELDS)

    @router.get(prefix + "/cargos/{pk}/")
    def get_cargo(channel_id: int, pk: int) -> dict[str, Any]:
        """One cargo company."""
        with state.transaction():
            check_channel(state, channel_id)
            return public(get_or_404(t.cargos, pk))

    @router.get(prefix + "/retail_stores/")
    def list_retail_stores(channel_id: int, request: Request) -> dict[str, Any]:
        """Retail stores for store pickup (``erp_code`` identifies them)."""
        with state.transaction():
            check_channel(state, channel_id)
            return list_answer(request, t.retail_stores, STORE_FIELDS)

    @router.get(prefix + "/cancellation_reasons/")
    def list_reasons(channel_id: int, request: Request) -> dict[str, Any]:
        """Cancellation reasons."""
        with state.transaction():
            check_channel(state, channel_id)
            return list_answer(request, t.cancellation_reasons, REASON_FIELDS)

    @router.get(prefix + "/cancellation_reasons/{pk}/")
    def get_reason(channel_id: int, pk: int) -> dict[str, Any]:
        """One cancellation reason."""
        with state.transaction():
            check_channel(state, channel_id)
            return public(get_or_404(t.cancellation_reasons, pk))

    return router
