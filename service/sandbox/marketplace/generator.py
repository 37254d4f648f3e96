"""Deterministic marketplace orders and their life scripts, derived from (seed, index).

Every order is a pure function of the simulator seed, its index in the arrival
sequence and whether (and how) it is broken: two simulators with the same seed
produce the same orders in the same order. Each order also gets a *life script*: the
future events (picking, invoicing, shipping, delivery, a cancellation or a customer's
cancellation request) that the simulator applies as its clock passes their times.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from service.sandbox.seed import City, People, Product, SandboxSeed

BROKEN_KINDS = (
    "unknown_city",
    "unknown_cargo",
    "unmapped_sku",
    "missing_email",
    "malformed_amount",
    "duplicate_number",
)
UNKNOWN_CITY = "Istambul"
UNKNOWN_CARGO = "horoz"
CURRENCY = "TRY"
ORDER_ID_BASE = 7_000_000
CUSTOMER_POOL = 400
FREE_SHIPPING_FROM = Decimal("500.00")
SHIPPING_PRICE = Decimal("39.99")
SHIPPING_VAT = Decimal("20")
CENT = Decimal("0.01")

# Line statuses in the order a line moves through them; Cancelled/Returned leave the path.
LINE_FLOW = ("Created", "Picking", "Invoiced", "Shipped", "Delivered")
FINAL_STATUSES = ("Cancelled", "Returned", "UnDelivered")

_TR_ASCII = str.maketrans("çğıöşüÇĞİÖŞÜâîû", "cgiosuCGIOSUaiu")


def rank(status: str) -> int:
    """Position of ``status`` on the normal path (-1 for statuses off the path)."""
    return LINE_FLOW.index(status) if status in LINE_FLOW else -1


def order_id_for(index: int) -> int:
    """The marketplace id of the ``index``-th generated order."""
    return ORDER_ID_BASE + index + 1


def order_number_for(seed: int, index: int) -> str:
    """The customer-facing order number of the ``index``-th generated order."""
    return f"{31 + seed % 60:02d}{index + 1:08d}"


def iso(moment: datetime) -> str:
    """The wire format of a timestamp: UTC, microseconds, ``Z`` (sorts as text)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def money(value: Decimal) -> str:
    """A decimal amount as the API sends it: a string with two places."""
    return str(value.quantize(CENT))


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.translate(_TR_ASCII))
    return "".join(ch for ch in folded if ch.isalnum()).lower()


@dataclass(frozen=True)
class ScriptedEvent:
    """Something that will happen to an order at ``at`` (applied by the lifecycle)."""

    at: datetime
    kind: str  # "line_status" | "cancel" | "cancellation_request"
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GeneratedOrder:
    """An order payload as the API serves it, plus what the simulator knows about it."""

    index: int
    payload: dict[str, Any]
    broken: str | None
    script: tuple[ScriptedEvent, ...]

    @property
    def id(self) -> int:
        """The marketplace order id."""
        return int(self.payload["id"])


class OrderFactory:
    """Builds orders from a seed; holds no state beyond the seed data."""

    def __init__(self, seed_data: SandboxSeed, seed: int) -> None:
        self.data = seed_data
        self.seed = seed
        if UNKNOWN_CARGO in {c.erp_code for c in seed_data.cargo_companies}:
            raise ValueError(f"{UNKNOWN_CARGO!r} must not be a seeded cargo company")
        self._istanbul = seed_data.city("İstanbul")
        self._refund_reasons = tuple(
            r for r in seed_data.cancellation_reasons if r.cancellation_type == "refund"
        )
        self._cancel_reasons = tuple(
            r for r in seed_data.cancellation_reasons if r.cancellation_type == "cancel"
        )

    def rng(self, *parts: object) -> random.Random:
        """A generator of its own for one purpose, e.g. ``rng("order", 12)``."""
        return random.Random(":".join(str(p) for p in (self.seed, *parts)))

    # -- customers and addresses -------------------------------------------------------

    def _customer(self, number: int) -> dict[str, Any]:
        """Customer ``number`` of the pool: the same person every time they order."""
        rng = self.rng("customer", number)
        people: People = self.data.people
        first, last = rng.choice(people.first_names), rng.choice(people.last_names)
        email = (
            f"{_ascii(first)}.{_ascii(last)}{rng.randint(1, 99)}@{rng.choice(people.email_domains)}"
        )
        return {
            "id": 500_000 + number,
            "first_name": first,
            "last_name": last,
            "email": email,
            "phone": f"+905{rng.randint(30, 59)}{rng.randint(0, 9_999_999):07d}",
        }

    def _address(self, rng: random.Random, customer: dict[str, Any], city: City) -> dict[str, Any]:
        township = rng.choice(city.townships)
        district = rng.choice(township.districts) if township.districts else ""
        street = rng.choice(self.data.people.streets)
        return {
            "first_name": customer["first_name"],
            "last_name": customer["last_name"],
            "email": customer["email"],
            "phone": customer["phone"],
            "country_code": self.data.country_code.upper(),
            "city": city.name,
            "township": township.name,
            "district": district,
            "address_line": f"{street} No:{rng.randint(1, 180)} D:{rng.randint(1, 24)}",
            "postal_code": f"{city.plate:02d}{rng.randint(0, 999):03d}",
            "title": rng.choice(("Ev", "Ev", "İş")),
            "retail_store": "",
        }

    def _home_address(self, customer: dict[str, Any]) -> dict[str, Any]:
        """The customer's usual address (stable, so address de-duplication gets work)."""
        rng = self.rng("home", customer["id"])
        # Big cities dominate real order streams.
        big = ("İstanbul", "Ankara", "İzmir", "Bursa", "Antalya")
        city = (
            self.data.city(rng.choice(big)) if rng.random() < 0.55 else rng.choice(self.data.cities)
        )
        return self._address(rng, customer, city)

    def _invoice_address(
        self, rng: random.Random, customer: dict[str, Any], shipping: dict[str, Any]
    ) -> dict[str, Any]:
        invoice = dict(shipping) | {"retail_store": ""}
        if rng.random() < 0.25:
            invoice = self._address(rng, customer, rng.choice(self.data.cities))
        corporate = rng.random() < 0.2
        invoice |= {
            "company_name": rng.choice(self.data.people.companies) if corporate else "",
            "tax_office": f"{invoice['city']} Vergi Dairesi" if corporate else "",
            "tax_number": f"{rng.randint(1_000_000_000, 9_999_999_999)}" if corporate else "",
            "e_invoice_user": corporate and rng.random() < 0.7,
            "identity_number": ""
            if corporate
            else f"{rng.randint(1, 9)}{rng.randint(0, 10**10 - 1):010d}",
        }
        return invoice

    # -- orders ------------------------------------------------------------------------

    def order(self, index: int, created_at: datetime, broken: str | None) -> GeneratedOrder:
        """Order number ``index`` created at ``created_at``, broken as ``broken`` says."""
        rng = self.rng("order", index)
        customer = self._customer(rng.randrange(CUSTOMER_POOL))
        shipping = self._home_address(customer)
        delivery_type = "standard"
        if rng.random() < 0.05 and self.data.retail_stores:
            store = rng.choice(self.data.retail_stores)
            shipping |= {
                "city": store.city,
                "township": store.township,
                "district": "",
                "address_line": store.name,
                "title": "Mağazadan teslim",
                "retail_store": store.erp_code,
            }
            delivery_type = "retail_store"
        invoice = self._invoice_address(rng, customer, shipping)

        order_id = order_id_for(index)
        count = rng.choices((1, 2, 3, 4), weights=(55, 25, 12, 8))[0]
        products: list[Product] = rng.sample(self.data.mapped_products, count)
        lines = []
        subtotal = discounts = Decimal(0)
        for position, product in enumerate(products, start=1):
            quantity = rng.choices((1, 2, 3), weights=(80, 15, 5))[0]
            gross = product.price * quantity
            discount = Decimal(0)
            if rng.random() < 0.25:
                discount = (gross * rng.choice((5, 10, 15, 20)) / 100).quantize(CENT)
            subtotal += gross
            discounts += discount
            lines.append(
                {
                    "id": order_id * 100 + position,
                    "sku": product.sku,
                    "barcode": product.barcode,
                    "product_name": product.name,
                    "quantity": quantity,
                    "currency": CURRENCY,
                    "unit_price": money(product.price),
                    "discount": money(discount),
                    "vat_rate": str(product.tax_rate),
                    "status": "Created",
                    "cancel_reason_code": "",
                    "invoice_number": "",
                    "invoice_date": None,
                    "tracking_number": "",
                }
            )
        shipping_price = (
            Decimal(0) if subtotal - discounts >= FREE_SHIPPING_FROM else SHIPPING_PRICE
        )
        payload: dict[str, Any] = {
            "id": order_id,
            "order_number": order_number_for(self.seed, index),
            "status": "Created",
            "created_at": iso(created_at),
            "updated_at": iso(created_at),
            "currency": CURRENCY,
            "total_price": money(subtotal - discounts + shipping_price),
            "total_discount": money(discounts),
            "shipping_price": money(shipping_price),
            "shipping_vat_rate": str(SHIPPING_VAT),
            "cargo_provider_code": rng.choice(self.data.cargo_companies).erp_code,
            "delivery_type": delivery_type,
            "note": rng.choice(("", "", "", "Zili çalmayın lütfen.", "Kapıya bırakabilirsiniz.")),
            "customer": customer,
            "shipping_address": shipping,
            "invoice_address": invoice,
            "lines": lines,
        }
        if broken:
            self._break(payload, broken, index, random.Random(f"{self.seed}:broken:{index}"))
        return GeneratedOrder(index, payload, broken, self._script(index, payload, created_at))

    def _break(self, payload: dict[str, Any], kind: str, index: int, rng: random.Random) -> None:
        """Make ``payload`` broken the way ``kind`` says (as real marketplaces do)."""
        if kind == "unknown_city":
            # A misspelt İstanbul with a real İstanbul township.
            township = rng.choice(self._istanbul.townships).name
            for key in ("shipping_address", "invoice_address"):
                payload[key] |= {"city": UNKNOWN_CITY, "township": township, "district": ""}
        elif kind == "unknown_cargo":
            payload["cargo_provider_code"] = UNKNOWN_CARGO
        elif kind == "unmapped_sku":
            product = rng.choice(self.data.unmapped_products)
            line = payload["lines"][-1]
            line |= {"sku": product.sku, "barcode": product.barcode, "product_name": product.name}
        elif kind == "missing_email":
            payload["customer"]["email"] = None
            for key in ("shipping_address", "invoice_address"):
                payload[key]["email"] = None
        elif kind == "malformed_amount":
            line = payload["lines"][0]
            if rng.random() < 0.75:
                # Turkish decimal comma leaking through an export: "249,90".
                line["unit_price"] = line["unit_price"].replace(".", ",")
            else:
                payload["total_price"] = "abc"
        elif kind == "duplicate_number":
            payload["order_number"] = order_number_for(self.seed, rng.randrange(max(index, 1)))
        else:
            raise ValueError(f"unknown broken kind {kind!r}")

    # -- life scripts ------------------------------------------------------------------

    def _script(
        self, index: int, payload: dict[str, Any], created: datetime
    ) -> tuple[ScriptedEvent, ...]:
        rng = self.rng("life", index)
        line_ids = [line["id"] for line in payload["lines"]]
        hours = lambda low, high: timedelta(hours=rng.uniform(low, high))  # noqa: E731
        events: list[ScriptedEvent] = []
        fate = rng.random()
        if fate < 0.04:
            # The customer asks to cancel before the parcel is prepared.
            reason = rng.choice(self._cancel_reasons)
            events.append(
                ScriptedEvent(
                    created + hours(0.2, 0.9),
                    "cancellation_request",
                    {
                        "line_id": rng.choice(line_ids),
                        "reason_code": reason.channel_code,
                        "type": "cancel",
                        "description": reason.name,
                    },
                )
            )
        if fate < 0.12:
            reason = rng.choice(self._cancel_reasons)
            cancelled = line_ids if len(line_ids) == 1 or rng.random() < 0.5 else line_ids[:1]
            events.append(
                ScriptedEvent(
                    created + hours(1.0, 6.0),
                    "cancel",
                    {"line_ids": cancelled, "reason_code": reason.channel_code},
                )
            )
            return tuple(events)
        picking = created + hours(1.0, 3.0)
        invoiced = picking + hours(0.5, 2.0)
        shipped = invoiced + hours(1.0, 8.0)
        delivered = shipped + hours(20.0, 70.0)
        invoice_no = f"CDM{created.year}{rng.randint(0, 10**9 - 1):09d}"
        tracking = f"{rng.randint(10**11, 10**12 - 1)}"
        for at, status, extra in (
            (picking, "Picking", {}),
            (invoiced, "Invoiced", {"invoice_number": invoice_no, "invoice_date": iso(invoiced)}),
            (shipped, "Shipped", {"tracking_number": tracking}),
            (delivered, "Delivered", {}),
        ):
            events.append(
                ScriptedEvent(at, "line_status", {"line_ids": line_ids, "status": status, **extra})
            )
        if rng.random() < 0.15:
            reason = rng.choice(self._refund_reasons)
            events.append(
                ScriptedEvent(
                    delivered + hours(2.0, 96.0),
                    "cancellation_request",
                    {
                        "line_id": rng.choice(line_ids),
                        "reason_code": reason.channel_code,
                        "type": "refund",
                        "description": reason.name,
                    },
                )
            )
        return tuple(events)
