"""Fast smoke tests of the Omnitron simulator over real HTTP (the full suite is elsewhere)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningOmnitron

API = "api/v1/"
CH = API + "channel/1/"


@contextmanager
def _client(running: RunningOmnitron) -> Iterator[httpx.Client]:
    """A client logged in to the simulator."""
    with httpx.Client(base_url=running.base_url, timeout=10) as client:
        login = {"username": "sandbox", "password": "sandbox"}
        answer = client.post(API + "auth/login/", json=login)
        assert answer.status_code == 200
        client.headers["Authorization"] = f"Token {answer.json()['key']}"
        yield client


@pytest.fixture
def api(omnitron: RunningOmnitron) -> Iterator[httpx.Client]:
    with _client(omnitron) as client:
        yield client


def _new_order(api: httpx.Client, number: str = "MP-1001", lines: int = 2) -> dict[str, Any]:
    customer = api.post(
        CH + "customers/",
        json={"channel": "1", "email": "ayse@example.com", "first_name": "Ayşe", "last_name": "Y"},
    ).json()
    city = api.get(CH + "cities/", params={"name__iexact": "İSTANBUL"}).json()["results"][0]
    address = api.post(
        CH + "addresses/",
        json={"customer": customer["pk"], "country": 1, "city": city["pk"], "line": "Moda 1"},
    ).json()
    product = api.get(
        CH + "integration_actions/", params={"content_type_name": "product", "limit": 1}
    ).json()["results"][0]
    answer = api.post(
        CH + "create_orders/",
        json={
            "order": {
                "number": number,
                "channel": "1",
                "customer": customer["pk"],
                "shipping_address": address["pk"],
                "billing_address": address["pk"],
                "amount": "199.9",
                "extra_field": {"id": number},
            },
            "order_item": [
                {"product": product["object_id"], "price": 99.95, "extra_field": {"id": f"L{i}"}}
                for i in range(lines)
            ],
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_login_and_json_401(omnitron: RunningOmnitron) -> None:
    with httpx.Client(base_url=omnitron.base_url) as client:
        bad = client.post(API + "auth/login/", json={"username": "x", "password": "y"})
        assert bad.status_code == 400
        assert "non_field_errors" in bad.json()
        missing = client.get(API + "channels/1/")
        assert missing.status_code == 401
        assert "detail" in missing.json()
    with _client(omnitron) as client:
        assert client.get(API + "active_user/").status_code == 200
        omnitron.control.post("tokens/revoke").raise_for_status()
        assert client.get(API + "channels/1/").status_code == 401


def test_pagination_ends_with_next_null(api: httpx.Client) -> None:
    first = api.get(CH + "cargos/", params={"page": 1, "limit": 3}).json()
    assert first["count"] >= 5
    assert first["next"].startswith("http://")
    pages = 1
    page = first
    while page["next"]:
        page = api.get(page["next"]).json()
        pages += 1
    assert page["next"] is None
    assert pages == -(-first["count"] // 3)


def test_create_order_and_find_it_by_number(api: httpx.Client) -> None:
    order = _new_order(api)
    assert order["amount"] == "199.90"
    assert order["status"] == "400"
    found = api.get(CH + "orders/", params={"number": "MP-1001", "channel_id": 1}).json()
    assert [row["pk"] for row in found["results"]] == [order["pk"]]
    items = api.get(CH + "order_items/", params={"order": order["pk"], "sort": "id"}).json()
    assert [i["extra_field"]["id"] for i in items["results"]] == ["L0", "L1"]


def test_batch_commit_done_creates_integration_actions(api: httpx.Client) -> None:
    order = _new_order(api)
    batch = api.post(CH + "batch_requests/", json={"channel": "1"}).json()
    assert batch["status"] == "initialized"
    objects = [
        {
            "pk": order["pk"],
            "version_date": order["modified_date"],
            "content_type": "order",
            "remote_id": "MP-1001",
            "failed_reason_type": None,
        }
    ]
    url = CH + f"batch_requests/{batch['pk']}/"
    body = {"channel": 1, "status": "commit", "objects": objects, "content_type": "order"}
    assert api.patch(url, json=body).status_code == 200
    other = api.post(CH + "batch_requests/", json={"channel": 1}).json()
    locked = api.patch(
        CH + f"batch_requests/{other['pk']}/",
        json={"channel": 1, "status": "commit", "objects": [], "content_type": "order"},
    )
    assert locked.status_code == 406
    assert "batch_request_status_100_2" in locked.text
    done = api.patch(url, json={"channel": 1, "status": "done", "objects": objects})
    assert done.json()["status"] == "done"
    again = api.patch(url, json={"channel": 1, "status": "done", "objects": objects})
    assert again.status_code == 406
    assert "batch_request_status_100_1" in again.text
    actions = api.get(
        CH + "integration_actions/",
        params={"content_type_name": "order", "remote_id__exact": "MP-1001"},
    ).json()["results"]
    assert len(actions) == 1
    assert actions[0]["object_id"] == order["pk"]
    assert actions[0]["status"] == "success"
    assert actions[0]["content_type"]["model"] == "order"


def test_state_survives_restart(
    start_omnitron: Callable[..., RunningOmnitron], tmp_path: Path
) -> None:
    first = start_omnitron(data_dir=tmp_path)
    with _client(first) as client:
        order = _new_order(client, number="MP-77")
        stale = client.headers["Authorization"]
    first.server.stop()
    first.sim.close()
    second = start_omnitron(data_dir=tmp_path)
    with httpx.Client(base_url=second.base_url, headers={"Authorization": stale}) as client:
        assert client.get(CH + "orders/").status_code == 401
    with _client(second) as client:
        found = client.get(CH + "orders/", params={"number": "MP-77"}).json()["results"]
        assert [row["pk"] for row in found] == [order["pk"]]
