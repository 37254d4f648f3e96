"""Tables of the simulator, their indexes, and the fixed content types."""

from __future__ import annotations

from collections.abc import Hashable
from types import MappingProxyType

from service.sandbox.omnitron.store import Row, Store, Table

# Content types with fixed ids (Django gives every model one; clients look them up by model).
CONTENT_TYPE_MODELS: tuple[str, ...] = (
    "batchrequest",
    "channel",
    "order",
    "orderitem",
    "product",
    "cancellationrequest",
    "customer",
    "address",
    "integrationaction",
    "errorreport",
    "country",
    "city",
    "township",
    "district",
    "retailstore",
    "cargocompany",
    "cancellationreason",
    "productprice",
    "productstock",
)
CONTENT_TYPE_IDS: MappingProxyType[str, int] = MappingProxyType(
    {model: index + 1 for index, model in enumerate(CONTENT_TYPE_MODELS)}
)
CONTENT_TYPE_NAMES: MappingProxyType[int, str] = MappingProxyType(
    {index: model for model, index in CONTENT_TYPE_IDS.items()}
)


def content_type_model(row: Row) -> str | None:
    """The model name of an integration action's content type."""
    return CONTENT_TYPE_NAMES.get(row.get("content_type", 0))


def _key(name: str) -> object:
    def get(row: Row) -> Hashable | None:
        value = row.get(name)
        return value if isinstance(value, Hashable) else None

    return get


class Tables:
    """Every table of the simulator, created on a :class:`Store`."""

    def __init__(self, store: Store) -> None:
        add = store.add_table
        self.content_types: Table = add("content_types", {"model": _key("model")})
        self.channels: Table = add("channels")
        self.catalogs: Table = add("catalogs")
        self.countries: Table = add("countries", {"code": _key("code")})
        self.cities: Table = add("cities", {"country": _key("country")})
        self.townships: Table = add("townships", {"city": _key("city")})
        self.districts: Table = add("districts", {"township": _key("township")})
        self.retail_stores: Table = add("retail_stores", {"erp_code": _key("erp_code")})
        self.cargos: Table = add("cargos", {"erp_code": _key("erp_code")})
        self.products: Table = add("products", {"sku": _key("sku")})
        self.product_prices: Table = add("product_prices", {"product": _key("product")})
        self.product_stocks: Table = add("product_stocks", {"product": _key("product")})
        self.cancellation_reasons: Table = add("cancellation_reasons")
        self.customers: Table = add(
            "customers", {"email": _key("email"), "phone_number": _key("phone_number")}
        )
        self.addresses: Table = add(
            "addresses", {"hash_data": _key("hash_data"), "customer": _key("customer")}
        )
        self.orders: Table = add("orders", {"number": _key("number")})
        self.order_items: Table = add("order_items", {"order": _key("order")})
        self.batch_requests: Table = add(
            "batch_requests", {"status": _key("status"), "local_batch_id": _key("local_batch_id")}
        )
        self.integration_actions: Table = add(
            "integration_actions",
            {
                "content_type_name": content_type_model,
                "remote_id": _key("remote_id"),
                "object_id": _key("object_id"),
                "local_batch_id": _key("local_batch_id"),
                "status": _key("status"),
                "object_key": lambda row: (row["content_type"], row["object_id"]),
            },
        )
        self.error_reports: Table = add("error_reports", {"error_code": _key("error_code")})
        self.location_error_reports: Table = add("location_error_reports", {"type": _key("type")})
        self.cancellation_requests: Table = add(
            "cancellation_requests",
            {"order_item": _key("order_item"), "remote_id": _key("remote_id")},
        )

    def counts(self, store: Store) -> dict[str, int]:
        """Rows per table, for the control summary."""
        return {name: len(table) for name, table in store.tables.items()}
