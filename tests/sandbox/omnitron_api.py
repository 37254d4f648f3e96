"""A thin HTTP helper for black-box tests of the Omnitron simulator.

It is not a mock and holds no knowledge of the simulator's internals: it logs in
over loopback exactly as a client would and sends plain requests relative to
``api/v1/`` with the token. The builders below create the objects many tests need
(customer, address, order, batch) through the public API only.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx

JSON = Any
Params = dict[str, Any] | list[tuple[str, Any]] | None

_unique = itertools.count(1)


def unique(prefix: str) -> str:
    """A string no other call in this test run returns."""
    return f"{prefix}-{next(_unique)}"


class ApiError(AssertionError):
    """An answer with another status than the test expected."""


class OmnitronApi:
    """A logged-in client for ``{base_url}api/v1/``; paths are relative to it."""

    def __init__(
        self,
        base_url: str,
        username: str = "sandbox",
        password: str = "sandbox",
        channel_id: int = 1,
    ) -> None:
        self.base_url = base_url
        self.root = base_url + "api/v1/"
        self.channel_id = channel_id
        self.http = httpx.Client(base_url=self.root, timeout=10)
        self.token = self.login(username, password)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def login(self, username: str, password: str) -> str:
        """``POST auth/login/`` and use the returned key from now on."""
        response = self.http.post("auth/login/", json={"username": username, "password": password})
        body = _expect(response, 200)
        self.http.headers["Authorization"] = f"Token {body['key']}"
        return str(body["key"])

    def ch(self, path: str = "") -> str:
        """The channel-scoped path ``channel/{channel_id}/{path}``."""
        return f"channel/{self.channel_id}/{path}"

    def raw(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request and return the response unchecked."""
        return self.http.request(method, path, **kwargs)

    def get(self, path: str, params: Params = None, *, expect: int = 200) -> JSON:
        """GET and return the JSON body, asserting the status."""
        return _expect(self.http.get(path, params=params), expect)

    def post(self, path: str, body: JSON = None, *, expect: int = 201) -> JSON:
        """POST a JSON body and return the JSON answer, asserting the status."""
        return _expect(self.http.post(path, json=body), expect)

    def patch(self, path: str, body: JSON, *, expect: int = 200) -> JSON:
        """PATCH a JSON body and return the JSON answer, asserting the status."""
        return _expect(self.http.patch(path, json=body), expect)

    def results(self, path: str, params: Params = None) -> list[dict[str, Any]]:
        """The ``results`` of one page (a bare list is returned as is)."""
        body = self.get(path, params)
        return body if isinstance(body, list) else body["results"]

    def all_pages(self, path: str, params: Params = None) -> list[dict[str, Any]]:
        """Every row of a paged listing, following ``next`` until it is null."""
        rows: list[dict[str, Any]] = []
        body = self.get(path, params)
        for _ in range(10_000):
            rows.extend(body["results"])
            if body["next"] is None:
                return rows
            body = _expect(self.http.get(body["next"]), 200)
        raise AssertionError("paging did not end")

    def one(self, path: str, params: Params = None) -> dict[str, Any]:
        """The single row a filtered listing must return."""
        rows = self.results(path, params)
        assert len(rows) == 1, f"expected exactly one row from {path} {params}, got {rows}"
        return rows[0]


def _expect(response: httpx.Response, status: int) -> JSON:
    if response.status_code != status:
        raise ApiError(
            f"{response.request.method} {response.request.url}: expected {status}, "
            f"got {response.status_code}: {response.text[:800]}"
        )
    if not response.content:
        return {}
    return response.json()


# --- builders: objects many tests need, made through the public API -----------------


@dataclass(frozen=True)
class Location:
    """Primary keys of a resolved address location."""

    country: int
    city: int
    township: int
    district: int


def location(api: OmnitronApi, city: str = "İstanbul", township: str = "Kadıköy") -> Location:
    """Resolve Türkiye → city → township → its first district via the §2 filters."""
    country = api.one(api.ch("countries/"), {"code__exact": "tr", "is_active": "True"})["pk"]
    city_pk = api.one(
        api.ch("cities/"), {"name__iexact": city, "country": country, "is_active": "True"}
    )["pk"]
    township_pk = api.one(
        api.ch("townships/"),
        {"name__iexact": township, "country": country, "city": city_pk, "is_active": "True"},
    )["pk"]
    districts = api.results(api.ch("districts/"), {"township": township_pk, "city": city_pk})
    assert districts, f"no districts seeded for {township}"
    return Location(country, city_pk, township_pk, districts[0]["pk"])


def mapped_products(api: OmnitronApi, count: int = 3) -> list[tuple[str, int]]:
    """``(sku, product pk)`` of ``count`` products mapped to the channel."""
    rows = api.results(
        api.ch("integration_actions/"),
        {"channel": api.channel_id, "content_type_name": "product", "sort": "id", "limit": count},
    )
    assert len(rows) == count, f"expected {count} product integration actions, got {rows}"
    return [(row["remote_id"], int(row["object_id"])) for row in rows]


def create_customer(api: OmnitronApi, **fields: Any) -> dict[str, Any]:
    """POST a customer (channel id sent as a string, as the reference does)."""
    email = fields.pop("email", None) or f"{unique('musteri')}@example.com"
    body = {
        "channel": str(api.channel_id),
        "email": email,
        "phone_number": fields.pop("phone_number", None) or f"+90555{next(_unique):07d}",
        "first_name": "Ayşe",
        "last_name": "Yılmaz",
        "extra_field": {},
        "channel_code": unique("C"),
        "is_active": True,
        **fields,
    }
    return api.post(api.ch("customers/"), body)


def address_body(api: OmnitronApi, customer: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A complete address POST body for ``customer`` in İstanbul/Kadıköy."""
    loc = location(api)
    return {
        "email": customer["email"],
        "phone_number": customer["phone_number"],
        "first_name": customer["first_name"],
        "last_name": customer["last_name"],
        "customer": customer["pk"],
        "country": loc.country,
        "city": loc.city,
        "township": loc.township,
        "district": loc.district,
        "title": "Ev",
        "line": f"Bağdat Caddesi No: {next(_unique)}",
        "postcode": "34710",
        "notes": "",
        "company_name": "",
        "tax_office": "",
        "tax_no": "",
        "e_bill_taxpayer": False,
        "remote_id": None,
        "identity_number": "",
        "extra_field": {},
        **fields,
    }


def create_address(api: OmnitronApi, customer: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """POST a new (unique) address for ``customer``."""
    return api.post(api.ch("addresses/"), address_body(api, customer, **fields))


@dataclass
class CreatedOrder:
    """An order made through ``create_orders`` and the facts tests need about it."""

    order: dict[str, Any]
    remote_id: str
    items: list[dict[str, Any]]

    @property
    def pk(self) -> int:
        return int(self.order["pk"])

    def item_remote_id(self, item: dict[str, Any]) -> str:
        """The channel line id of an order item."""
        return str(item["extra_field"]["id"])


def create_order(
    api: OmnitronApi, quantities: tuple[int, ...] = (1,), *, number: str | None = None
) -> CreatedOrder:
    """Create a customer, an address and an order with one item per unit of each line."""
    customer = create_customer(api)
    address = create_address(api, customer)
    cargo = api.results(api.ch("cargos/"))[0]
    catalog = api.get("catalogs/1/")
    products = mapped_products(api, len(quantities))
    remote_id = unique("MP-ORDER")
    items = []
    for (_sku, product_pk), (line_no, quantity) in zip(
        products, enumerate(quantities, 1), strict=True
    ):
        for _ in range(quantity):
            items.append(
                {
                    "product": product_pk,
                    "status": "400",
                    "price_currency": "try",
                    "price": "199.90",
                    "tax_rate": "20.00",
                    "extra_field": {"id": f"{remote_id}-L{line_no}"},
                    "price_list": catalog["price_list"],
                    "stock_list": catalog["stock_list"],
                    "tracking_number": "",
                    "carrier_shipping_code": "",
                    "discount_amount": "0.00",
                    "retail_price": "249.90",
                    "attributes": {},
                    "attributes_kwargs": {},
                    "parent": None,
                    "delivered_date": None,
                    "estimated_delivery_date": None,
                }
            )
    total = f"{199.90 * len(items):.2f}"
    order = {
        "number": number or unique("CD"),
        "status": "400",
        "channel": str(api.channel_id),
        "customer": customer["pk"],
        "shipping_address": address["pk"],
        "billing_address": address["pk"],
        "currency": "try",
        "amount": total,
        "shipping_amount": "0.00",
        "shipping_tax_rate": "20.00",
        "extra_field": {"id": remote_id},
        "delivery_type": "standard",
        "cargo_company": cargo["pk"],
        "discount_amount": "0.00",
        "net_shipping_amount": "0.00",
        "tracking_number": "",
        "carrier_shipping_code": "",
        "remote_addr": "127.0.0.1",
        "has_gift_box": False,
        "gift_box_note": "",
        "client_type": "default",
        "language_code": "tr-tr",
        "notes": "",
        "delivery_range": None,
        "shipping_option_slug": "",
        "date_placed": "2026-11-27 10:30:00",
    }
    created = api.post(api.ch("create_orders/"), {"order": order, "order_item": items})
    order_items = api.all_pages(api.ch("order_items/"), {"order": created["pk"], "sort": "id"})
    return CreatedOrder(created, remote_id, order_items)


def new_batch(api: OmnitronApi) -> dict[str, Any]:
    """POST a batch request (``initialized``)."""
    return api.post(api.ch("batch_requests/"), {"channel": str(api.channel_id)})


def set_batch(
    api: OmnitronApi, batch: dict[str, Any], status: str, *, expect: int = 200, **fields: Any
) -> JSON:
    """PATCH a batch request to ``status`` with the body the flows send."""
    body = {"channel": api.channel_id, "status": status, **fields}
    return api.patch(api.ch(f"batch_requests/{batch['pk']}/"), body, expect=expect)


def order_objects(
    order: CreatedOrder, *, version: str | None = None, failed: str | None = None
) -> list[dict[str, Any]]:
    """Batch ``objects`` for an order and its items, as the order flows commit them."""
    objects = [
        {
            "pk": order.pk,
            "version_date": version or order.order["modified_date"],
            "content_type": "order",
            "failed_reason_type": failed,
            "remote_id": order.remote_id,
        }
    ]
    for item in order.items:
        objects.append(
            {
                "pk": item["pk"],
                "version_date": item["modified_date"],
                "content_type": "orderitem",
                "failed_reason_type": failed,
                "remote_id": order.item_remote_id(item),
            }
        )
    return objects


def integration_action(api: OmnitronApi, model: str, object_id: int) -> dict[str, Any]:
    """The integration action of one object (filter set (d))."""
    return api.one(
        api.ch("integration_actions/"),
        {"content_type_name": model, "object_id": object_id, "channel": api.channel_id},
    )


def sync_order(api: OmnitronApi, order: CreatedOrder, version: str | None = None) -> None:
    """Commit an order and finish the batch ``done``, as a successful flow run does."""
    batch = new_batch(api)
    objects = order_objects(order, version=version)
    set_batch(api, batch, "commit", objects=objects, content_type="order")
    set_batch(api, batch, "done", objects=objects)
