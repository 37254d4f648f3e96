"""The Omnitron client against the simulator over loopback: typed reads and writes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from service.omnitron import BatchTransitionRefused, OmnitronClient, OmnitronNotFound
from service.omnitron.models import (
    AddressCreate,
    BatchObject,
    BatchStatus,
    CancellationRequestCreate,
    CancelOrderRequest,
    CustomerCreate,
    ErrorReportCreate,
    OrderCreate,
    OrderCreateOrder,
    OrderItemCreate,
)
from service.sandbox.seed import load_seed
from tests.conftest import RunningOmnitron
from tests.omnitron.conftest import ClientFactory

LOGIN_ROUTE = "POST /api/v1/auth/login/"
CREATE_ORDER_ROUTE = "POST /api/v1/channel/{id}/create_orders/"


def test_channel_catalog_and_content_types(client: OmnitronClient) -> None:
    channel = client.get_channel()
    assert channel.pk == 1
    assert channel.is_active
    assert channel.conf.customer_identifier_field == "email"
    catalog = client.get_catalog()
    assert catalog.pk == 1
    assert catalog.price_list is not None
    order_ct = client.content_type("order")
    assert order_ct.model == "order"
    assert client.content_type("ORDER") is order_ct  # cached, case-insensitive
    with pytest.raises(OmnitronNotFound):
        client.content_type("no_such_model")


def test_cargo_companies_are_read_across_all_pages(client: OmnitronClient) -> None:
    cargos = client.list_cargo_companies()
    erp_codes = {cargo.erp_code for cargo in cargos}
    assert {company.erp_code for company in load_seed().cargo_companies} == erp_codes
    assert len(cargos) == len(erp_codes) >= 5


@pytest.mark.parametrize("spelling", ["İstanbul", "ISTANBUL", "istanbul", "İSTANBUL"])
def test_cities_match_with_turkish_case_folding(client: OmnitronClient, spelling: str) -> None:
    country = client.find_country("tr")
    assert country is not None
    by_exact = client.find_city(country.pk, "İstanbul")
    assert by_exact is not None
    found = client.find_city(country.pk, spelling)
    assert found is not None
    assert found.pk == by_exact.pk


def test_locations_fall_back_to_mapping_codes(client: OmnitronClient) -> None:
    country = client.find_country("Turkey")  # neither code nor name: a channel mapping
    assert country is not None
    assert client.find_country("tr") == country
    antep = client.find_city(country.pk, "Antep")
    assert antep is not None
    assert antep.name == "Gaziantep"
    assert client.find_city(country.pk, "Atlantis") is None


def test_unknown_city_is_reported(client: OmnitronClient, omnitron: RunningOmnitron) -> None:
    country = client.find_country("tr")
    assert country is not None
    report = client.report_missing_location("city", name="Atlantis", country_id=country.pk)
    assert report.remote_code == "1_Atlantis"
    stats = omnitron.control.get("stats").json()
    assert stats["by_route"]["POST /api/v1/channel/{id}/error_reports/city/"] == 1


def _customer(client: OmnitronClient) -> Any:
    email = f"ayse.{uuid.uuid4().hex[:8]}@example.com"
    created = client.create_customer(
        CustomerCreate(
            email=email, first_name="Ayşe", last_name="Yılmaz", phone_number="05551112233"
        )
    )
    return created


def test_customer_create_find_and_patch(client: OmnitronClient) -> None:
    created = _customer(client)
    found = client.find_customer("email", created.email)
    assert found is not None
    assert found.pk == created.pk
    patched = client.patch_customer(created.pk, {"last_name": "Demir"})
    assert patched.last_name == "Demir"
    assert client.find_customer("email", "nobody@example.com") is None


def _address(client: OmnitronClient, customer_pk: int, line: str = "Moda Cad. 1") -> AddressCreate:
    country = client.find_country("tr")
    assert country is not None
    city = client.find_city(country.pk, "İstanbul")
    assert city is not None
    township = client.find_township(country.pk, city.pk, "Kadıköy")
    return AddressCreate(
        customer=customer_pk,
        country=country.pk,
        city=city.pk,
        township=township.pk if township else None,
        line=line,
        first_name="Ayşe",
        last_name="Yılmaz",
        email="ayse@example.com",
        phone_number="05551112233",
    )


def test_duplicate_address_reuses_the_existing_one(
    client: OmnitronClient, omnitron: RunningOmnitron
) -> None:
    customer = _customer(client)
    body = _address(client, customer.pk)
    first = client.create_address(body)
    again = client.create_address(body)
    assert again.pk == first.pk
    stats = omnitron.control.get("stats").json()["by_route"]
    assert stats["POST /api/v1/channel/{id}/addresses/"] == 2
    assert stats["GET /api/v1/channel/{id}/addresses/"] == 1  # the hash lookup


def _order_body(client: OmnitronClient, number: str) -> OrderCreate:
    customer = _customer(client)
    address = client.create_address(_address(client, customer.pk))
    cargo = client.list_cargo_companies()[0]
    seed = load_seed()
    sku = seed.mapped_products[0].sku
    products = client.product_ids_for_skus([sku, seed.unmapped_products[0].sku])
    assert list(products) == [sku]  # the unmapped SKU has no integration action
    catalog = client.get_catalog()
    items = [
        OrderItemCreate(
            product=products[sku],
            price_currency="try",
            price=Decimal("149.90"),
            tax_rate=Decimal("20"),
            extra_field={"id": f"{number}-L1"},
            price_list=catalog.price_list,
            stock_list=catalog.stock_list,
        )
        for _ in range(2)
    ]
    return OrderCreate(
        order=OrderCreateOrder(
            number=number,
            channel=client.settings.channel_id,
            customer=customer.pk,
            shipping_address=address.pk,
            billing_address=address.pk,
            currency="try",
            amount=Decimal("299.80"),
            shipping_amount=Decimal("0"),
            cargo_company=cargo.pk,
            extra_field={"id": f"R-{number}"},
            date_placed=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        ),
        order_item=items,
    )


def test_order_create_and_find_by_number(client: OmnitronClient) -> None:
    number = f"MP-{uuid.uuid4().hex[:10]}"
    assert client.find_order_by_number(number) is None
    created = client.create_order(_order_body(client, number))
    assert created.number == number
    assert created.remote_id == f"R-{number}"
    found = client.find_order_by_number(number)
    assert found is not None
    assert found.pk == created.pk
    assert [o.pk for o in client.get_orders([created.pk, created.pk])] == [created.pk]
    items = client.list_order_items(created.pk)
    assert len(items) == 2
    assert {item.remote_id for item in items} == {f"{number}-L1"}
    item = client.patch_order_item(items[0].pk, {"tracking_number": "TRK1", "status": ""})
    assert item.tracking_number == "TRK1"
    assert client.get_order_item(items[0].pk).tracking_number == "TRK1"


class LoseOneResponse(httpx.BaseTransport):
    """Turns ``lost_response_rate`` on for exactly the first request matching a route."""

    def __init__(self, control: httpx.Client, method: str, path_suffix: str) -> None:
        self._inner = httpx.HTTPTransport()
        self._control = control
        self._method = method
        self._suffix = path_suffix
        self.fired = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.fired or request.method != self._method:
            return self._inner.handle_request(request)
        if not request.url.path.endswith(self._suffix):
            return self._inner.handle_request(request)
        self.fired = True
        self._control.patch("faults", json={"lost_response_rate": 1.0}).raise_for_status()
        try:
            return self._inner.handle_request(request)
        finally:
            self._control.patch("faults", json={"lost_response_rate": 0.0}).raise_for_status()

    def close(self) -> None:
        self._inner.close()


def test_create_order_with_a_lost_response_returns_the_order_that_landed(
    omnitron: RunningOmnitron, make_client: ClientFactory
) -> None:
    losing = LoseOneResponse(omnitron.control, "POST", "/create_orders/")
    client = make_client(omnitron, transport=losing)
    number = f"MP-{uuid.uuid4().hex[:10]}"
    body = _order_body(client, number)
    omnitron.control.post("stats/reset").raise_for_status()

    created = client.create_order(body)

    assert losing.fired
    stats = omnitron.control.get("stats").json()
    assert stats["faults"] == {"lost_response": 1}
    assert stats["by_route"][CREATE_ORDER_ROUTE] == 1  # never POSTed twice
    found = client.find_order_by_number(number)  # exactly one, or this raises
    assert found is not None
    assert found.pk == created.pk


def test_batch_lifecycle_and_refused_transitions(client: OmnitronClient) -> None:
    order = client.create_order(_order_body(client, f"MP-{uuid.uuid4().hex[:10]}"))
    items = client.list_order_items(order.pk)
    batch = client.create_batch_request()
    assert batch.status is BatchStatus.INITIALIZED
    assert batch.local_batch_id
    objects = [
        BatchObject(
            pk=order.pk,
            version_date=order.modified_date,
            content_type="order",
            remote_id=order.remote_id,
        ),
        *(
            BatchObject(
                pk=item.pk,
                version_date=item.modified_date,
                content_type="orderitem",
                remote_id=item.remote_id,
            )
            for item in items
        ),
    ]
    committed = client.update_batch_request(
        batch.pk, BatchStatus.COMMIT, objects=objects, content_type="order"
    )
    assert committed.status is BatchStatus.COMMIT
    in_flight = list(client.objects_of_batch(batch.local_batch_id))
    assert {(a.content_type.model, a.object_id) for a in in_flight} == {
        (o.content_type, o.pk) for o in objects
    }

    # The commit lock: a second order batch may not commit while this one does.
    other = client.create_batch_request()
    with pytest.raises(BatchTransitionRefused) as locked:
        client.update_batch_request(other.pk, "commit", objects=[], content_type="order")
    assert locked.value.is_lock
    assert locked.value.status_code == 406
    client.update_batch_request(other.pk, BatchStatus.FAIL, objects=[])

    sent = client.update_batch_request(batch.pk, "sent_to_remote", remote_batch_id="RB-1")
    assert sent.remote_batch_id == "RB-1"
    listed = list(client.list_batch_requests(status=["sent_to_remote", "ongoing"]))
    assert [b.pk for b in listed] == [batch.pk]
    client.update_batch_request(batch.pk, BatchStatus.ONGOING)
    done = client.update_batch_request(batch.pk, BatchStatus.DONE, objects=objects)
    assert done.status.is_final
    assert client.remote_ids_for_objects("order", [order.pk]) == {order.pk: order.remote_id}
    assert client.object_ids_for_remote_id("orderitem", f"{order.number}-L1") == sorted(
        item.pk for item in items
    )

    with pytest.raises(BatchTransitionRefused) as refused:
        client.update_batch_request(batch.pk, BatchStatus.COMMIT, objects=[])
    assert refused.value.code == "batch_request_status_100_1"
    assert not refused.value.is_lock
    assert "not allowed" in str(refused.value)


def test_error_report_defaults_its_target_to_the_channel(
    client: OmnitronClient, omnitron: RunningOmnitron
) -> None:
    batch = client.create_batch_request()
    report = client.create_error_report(
        ErrorReportCreate(
            action_content_type=client.content_type("batchrequest").id,
            action_object_id=batch.pk,
            error_code=f"{batch.local_batch_id}-Channel-GetOrders-{uuid.uuid4().hex[:6]}",
            error_desc="Channel-GetOrders",
            raw_request="GET - https://marketplace/orders - ",
            obj_modified_date=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
            is_ok=True,
        )
    )
    assert report is not None
    assert report.target_content_type == client.content_type("channel").id
    assert report.target_object_id == client.settings.channel_id
    assert report.obj_modified_date is not None
    assert report.obj_modified_date.startswith("2026-03-01")
    client.update_batch_request(batch.pk, BatchStatus.FAIL, objects=[])


def test_cancel_order_items_and_cancellation_requests(client: OmnitronClient) -> None:
    order = client.create_order(_order_body(client, f"MP-{uuid.uuid4().hex[:10]}"))
    first, second = client.list_order_items(order.pk)
    reasons = client.list_cancellation_reasons()
    assert reasons
    request = client.create_cancellation_request(
        CancellationRequestCreate(
            order_item=second.pk, reason=reasons[0].pk, remote_id="CR-1", description="late"
        )
    )
    assert request.order_item == second.pk
    patched = client.patch_cancellation_request(request.pk, {"description": "very late"})
    assert patched.description == "very late"

    client.cancel_order(
        order.pk,
        CancelOrderRequest(
            order=order.pk, cancel_items=[first.pk], reasons={first.pk: reasons[0].pk}
        ),
    )
    assert client.get_order_item(first.pk).status == "100"
    assert client.get_order_item(second.pk).status != "100"


def test_retail_store_by_erp_code(client: OmnitronClient) -> None:
    store = load_seed().retail_stores[0]
    found = client.find_retail_store(store.erp_code)
    assert found is not None
    assert found.erp_code == store.erp_code
    assert client.find_retail_store("no-such-store") is None


def test_updated_orders_appear_once_synced_orders_change(
    client: OmnitronClient, omnitron: RunningOmnitron
) -> None:
    order = client.create_order(_order_body(client, f"MP-{uuid.uuid4().hex[:10]}"))
    objects = [
        BatchObject(
            pk=order.pk,
            version_date=order.modified_date,
            content_type="order",
            remote_id=order.remote_id,
        )
    ]
    batch = client.create_batch_request()
    client.update_batch_request(batch.pk, "commit", objects=objects, content_type="order")
    client.update_batch_request(batch.pk, "done", objects=objects)
    assert order.pk not in {o.pk for o in client.list_updated_orders()}

    omnitron.control.post("clock/advance", json={"seconds": 2 * 3600}).raise_for_status()

    updated = {o.pk: o for o in client.list_updated_orders(limit=100)}
    assert order.pk in updated
    assert updated[order.pk].modified_date != order.modified_date
