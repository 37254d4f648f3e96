"""Akinon's own SDK (``omnisdk`` from PyPI, unmodified) against the Omnitron simulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import requests
from omnisdk.base_client import BaseClient
from omnisdk.exceptions import ValidationError
from omnisdk.omnitron.client import OmnitronApiClient
from omnisdk.omnitron.endpoints import (
    ChannelAddressEndpoint,
    ChannelBatchRequestEndpoint,
    ChannelCargoEndpoint,
    ChannelCityEndpoint,
    ChannelCountryEndpoint,
    ChannelCustomerEndpoint,
    ChannelEndpoint,
    ChannelTownshipEndpoint,
)
from omnisdk.omnitron.models import Address, BatchRequest, Customer

from tests.sandbox.omnitron_api import OmnitronApi, create_order, order_objects, unique

if TYPE_CHECKING:
    from tests.conftest import RunningOmnitron


@pytest.fixture
def sdk(omnitron: RunningOmnitron) -> Iterator[OmnitronApiClient]:
    """An SDK client logged in to the simulator; the SDK's class-level registry is reset."""
    omnitron.control.patch(
        "faults",
        json={"error_rate": 0, "drop_rate": 0, "lost_response_rate": 0, "burst_429": 0},
    ).raise_for_status()
    BaseClient.instance.clear()
    client = OmnitronApiClient(omnitron.base_url, "sandbox", "sandbox")
    yield client
    client.session.close()
    BaseClient.instance.clear()


@pytest.fixture
def api(omnitron: RunningOmnitron) -> Iterator[OmnitronApi]:
    """A plain-HTTP client to check what the SDK did."""
    client = OmnitronApi(omnitron.base_url)
    yield client
    client.close()


def _all_pages(endpoint: Any, params: dict[str, Any]) -> list[Any]:
    """Page through ``list()`` and its iterator, as the reference commands do."""
    rows = endpoint.list(params=params)
    for page in endpoint.iterator:
        if not page:
            break
        rows.extend(page)
    return rows


def test_sdk_logs_in_and_reads_the_channel(sdk: OmnitronApiClient) -> None:
    """The SDK's login yields ``Token <key>``; a detail GET becomes one model object."""
    assert sdk.token.startswith("Token ")
    channel = ChannelEndpoint().retrieve(id=1)
    assert channel.pk == 1
    assert channel.is_active is True


def test_sdk_wrong_password_raises_validation_error(omnitron: RunningOmnitron) -> None:
    """A refused login reaches the SDK as its ``ValidationError`` with the JSON body."""
    BaseClient.instance.clear()
    with pytest.raises(ValidationError) as caught:
        OmnitronApiClient(omnitron.base_url, "sandbox", "wrong")
    assert isinstance(caught.value.json, dict)
    BaseClient.instance.clear()


def test_sdk_pages_cargos_to_the_end(sdk: OmnitronApiClient) -> None:
    """``list()`` plus its iterator collects every cargo and stops on ``next: null``."""
    endpoint = ChannelCargoEndpoint(channel_id=1)
    cargos = _all_pages(endpoint, {"limit": 2})
    codes = [cargo.erp_code for cargo in cargos]
    assert {"aras", "yurtici", "mng", "ptt", "surat"} <= set(codes)
    assert len(codes) == len(set(codes))
    assert endpoint.iterator._next is False


def test_sdk_resolves_locations(sdk: OmnitronApiClient) -> None:
    """Country, city (Turkish folding) and township through the SDK's endpoint classes."""
    countries = ChannelCountryEndpoint(channel_id=1).list(
        params={"code__exact": "tr", "is_active": True}
    )
    assert [c.name for c in countries] == ["Türkiye"]
    country = countries[0].pk
    cities = _all_pages(
        ChannelCityEndpoint(channel_id=1),
        {"name__iexact": "İSTANBUL", "country": country, "is_active": True},
    )
    assert [c.name for c in cities] == ["İstanbul"]
    every_city = _all_pages(ChannelCityEndpoint(channel_id=1), {"limit": 20})
    assert len(every_city) == 81
    townships = ChannelTownshipEndpoint(channel_id=1).list(
        params={"name__iexact": "kadıköy", "city": cities[0].pk, "country": country}
    )
    assert [t.name for t in townships] == ["Kadıköy"]


def test_sdk_creates_customer_and_address(sdk: OmnitronApiClient, api: OmnitronApi) -> None:
    """Customer and address POSTs with the SDK's models; the address duplicate is its 400."""
    email = f"{unique('sdk')}@example.com"
    customer = ChannelCustomerEndpoint(channel_id=1).create(
        item=Customer(
            channel="1",
            email=email,
            phone_number="+905551112233",
            first_name="Elif",
            last_name="Aydın",
            extra_field={},
            channel_code=unique("SDK"),
            is_active=True,
        )
    )
    assert customer.pk
    updated = ChannelCustomerEndpoint(channel_id=1).update(
        id=customer.pk, item=Customer(channel="1", last_name="Arslan")
    )
    assert updated.last_name == "Arslan"
    country = api.one(api.ch("countries/"), {"code__exact": "tr"})["pk"]
    city = api.one(api.ch("cities/"), {"name__iexact": "İstanbul"})["pk"]
    township = api.one(api.ch("townships/"), {"name__iexact": "Kadıköy", "city": city})["pk"]
    district = api.results(api.ch("districts/"), {"township": township})[0]["pk"]
    fields = {
        "customer": customer.pk,
        "email": email,
        "phone_number": "+905551112233",
        "first_name": "Elif",
        "last_name": "Arslan",
        "country": country,
        "city": city,
        "township": township,
        "district": district,
        "title": "Ev",
        "line": "Moda Caddesi 12",
        "postcode": "34710",
        "extra_field": {},
    }
    address = ChannelAddressEndpoint(channel_id=1).create(item=Address(**fields))
    assert address.pk
    with pytest.raises(requests.HTTPError) as caught:
        ChannelAddressEndpoint(channel_id=1).create(item=Address(**fields))
    status, body = caught.value.args
    assert "400" in str(status)
    assert str(body["non_field_errors"]).startswith("hash_data:")
    found = api.one(api.ch("customers/"), {"email": email, "channel": 1})
    assert found["pk"] == customer.pk
    assert found["last_name"] == "Arslan"


def test_sdk_moves_a_batch_to_done(sdk: OmnitronApiClient, api: OmnitronApi) -> None:
    """initialized → commit → done through ``create``/``update``; actions exist afterwards."""
    order = create_order(api, (2,))
    endpoint = ChannelBatchRequestEndpoint(channel_id=1)
    batch = endpoint.create(item=BatchRequest(channel="1"))
    assert batch.status == "initialized"
    assert batch.local_batch_id
    objects = order_objects(order)
    committed = endpoint.update(
        id=batch.pk,
        item=BatchRequest(channel=1, status="commit", objects=objects, content_type="order"),
    )
    assert committed.status == "commit"
    listed = endpoint.list(params={"status": ["commit"], "channel": 1})
    assert [b.pk for b in listed] == [batch.pk]
    done = endpoint.update(
        id=batch.pk, item=BatchRequest(channel=1, status="done", objects=objects)
    )
    assert done.status == "done"

    actions = api.all_pages(
        api.ch("integration_actions/"),
        {
            "content_type_name": "orderitem",
            "object_id__in": ",".join(str(item["pk"]) for item in order.items),
        },
    )
    assert len(actions) == 2
    assert {a["status"] for a in actions} == {"success"}
    assert {a["local_batch_id"] for a in actions} == {batch.local_batch_id}
    order_action = api.one(
        api.ch("integration_actions/"), {"content_type_name": "order", "object_id": order.pk}
    )
    assert order_action["remote_id"] == order.remote_id
    assert order_action["status"] == "success"


def test_sdk_illegal_transition_is_a_parsable_406(sdk: OmnitronApiClient, api: OmnitronApi) -> None:
    """The SDK can parse the 406 body, as the reference's tolerance check needs."""
    endpoint = ChannelBatchRequestEndpoint(channel_id=1)
    batch = endpoint.create(item=BatchRequest(channel="1"))
    endpoint.update(id=batch.pk, item=BatchRequest(channel=1, status="done", objects=[]))
    with pytest.raises(requests.HTTPError) as caught:
        endpoint.update(id=batch.pk, item=BatchRequest(channel=1, status="commit", objects=[]))
    status, body = caught.value.args
    assert "406" in str(status)
    assert "batch_request_status_100_1" in str(body)


def test_sdk_recovers_from_a_revoked_token(
    sdk: OmnitronApiClient, omnitron: RunningOmnitron
) -> None:
    """After a 401 the SDK logs in once and replays the call."""
    old = sdk.token
    omnitron.control.post("tokens/revoke").raise_for_status()
    cargos = ChannelCargoEndpoint(channel_id=1).list(params={"limit": 100})
    assert len(cargos) >= 5
    assert sdk.token != old
