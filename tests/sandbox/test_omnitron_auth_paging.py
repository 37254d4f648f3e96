"""Omnitron simulator: token login, auth failures, DRF paging and error bodies (spec §1, §8)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.sandbox.omnitron_api import OmnitronApi, create_customer, unique

if TYPE_CHECKING:
    from tests.conftest import RunningOmnitron


def _json_error(response: httpx.Response, status: int) -> Any:
    """Assert an error status with a JSON body (the SDK parses every 4xx body)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    return response.json()


def _anonymous(omnitron: RunningOmnitron) -> httpx.Client:
    return httpx.Client(base_url=omnitron.base_url + "api/v1/", timeout=10)


# --- login -----------------------------------------------------------------------------


def test_login_returns_a_key_that_authorises_later_calls(omnitron: RunningOmnitron) -> None:
    """``POST auth/login/`` answers ``{"key"}``; ``Token <key>`` then opens the API."""
    with _anonymous(omnitron) as http:
        response = http.post("auth/login/", json={"username": "sandbox", "password": "sandbox"})
        assert response.status_code == 200, response.text
        key = response.json()["key"]
        assert isinstance(key, str)
        assert key
        channel = http.get("channels/1/", headers={"Authorization": f"Token {key}"})
        assert channel.status_code == 200, channel.text
        assert channel.json()["pk"] == 1


def test_login_uses_the_configured_credentials(start_omnitron: Any) -> None:
    """A simulator started with other credentials accepts those and refuses the defaults."""
    running = start_omnitron(username="ops", password="s3cret")
    with _anonymous(running) as http:
        good = http.post("auth/login/", json={"username": "ops", "password": "s3cret"})
        assert good.status_code == 200, good.text
        default = http.post("auth/login/", json={"username": "sandbox", "password": "sandbox"})
        _json_error(default, 400)


@pytest.mark.parametrize(
    "body",
    [
        {"username": "sandbox", "password": "wrong"},
        {"username": "nobody", "password": "sandbox"},
        {"username": "sandbox"},
        {},
    ],
)
def test_bad_login_is_a_400_with_a_json_body(
    omnitron: RunningOmnitron, body: dict[str, str]
) -> None:
    """A refused or malformed login is a validation error (400) with a JSON object body."""
    with _anonymous(omnitron) as http:
        error = _json_error(http.post("auth/login/", json=body), 400)
    assert isinstance(error, dict)
    assert error
    assert "key" not in error


# --- 401 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Token not-a-real-key"}, {"Authorization": "Bearer x"}],
    ids=["no-header", "unknown-token", "wrong-scheme"],
)
@pytest.mark.parametrize("path", ["channels/1/", "channel/1/cargos/", "content_types/"])
def test_missing_or_invalid_token_is_401_json(
    omnitron: RunningOmnitron, headers: dict[str, str], path: str
) -> None:
    """Auth failures answer 401 (never 403) with a JSON body (§8)."""
    with _anonymous(omnitron) as http:
        error = _json_error(http.get(path, headers=headers), 401)
    assert isinstance(error, dict)


def test_writes_without_a_token_are_401_json(omnitron: RunningOmnitron) -> None:
    """POST and PATCH are guarded the same way as GET."""
    with _anonymous(omnitron) as http:
        _json_error(http.post("channel/1/batch_requests/", json={"channel": 1}), 401)
        _json_error(http.patch("channel/1/batch_requests/1/", json={"status": "done"}), 401)


def test_revoked_token_is_401_and_a_new_login_works(
    omnitron: RunningOmnitron, api: OmnitronApi
) -> None:
    """``POST /_sandbox/tokens/revoke`` invalidates issued keys; logging in again recovers."""
    api.get("channels/1/")
    assert omnitron.control.post("tokens/revoke").status_code in (200, 204)
    _json_error(api.raw("GET", "channels/1/"), 401)
    fresh = api.login("sandbox", "sandbox")
    assert fresh != ""
    assert api.get("channels/1/")["pk"] == 1


# --- paging ----------------------------------------------------------------------------


def test_paging_walks_to_the_last_page_with_absolute_next(
    omnitron: RunningOmnitron, api: OmnitronApi
) -> None:
    """``page``/``limit`` page through all rows; ``next`` is absolute and null at the end."""
    path = api.ch("cities/")
    first = api.get(path, {"limit": 20, "page": 1})
    assert set(first) >= {"count", "next", "previous", "results"}
    assert first["count"] == 81
    assert first["previous"] is None
    assert len(first["results"]) == 20
    seen = [row["pk"] for row in first["results"]]
    body = first
    pages = 1
    while body["next"] is not None:
        assert body["next"].startswith(omnitron.base_url + "api/v1/" + path), body["next"]
        response = api.http.get(body["next"])
        assert response.status_code == 200, response.text
        body = response.json()
        pages += 1
        assert body["count"] == 81
        assert body["previous"] is not None
        seen.extend(row["pk"] for row in body["results"])
    assert pages == 5
    assert len(body["results"]) == 1
    assert "next" in body
    assert body["next"] is None
    assert len(seen) == len(set(seen)) == 81


def test_page_parameter_selects_the_page(api: OmnitronApi) -> None:
    """Explicit ``page=N`` returns the same rows as following ``next`` to page N."""
    path = api.ch("cities/")
    every = api.get(path, {"limit": 1000})["results"]
    page3 = api.get(path, {"limit": 10, "page": 3})
    assert [row["pk"] for row in page3["results"]] == [row["pk"] for row in every[20:30]]
    last = api.get(path, {"limit": 10, "page": 9})
    assert [row["pk"] for row in last["results"]] == [every[80]["pk"]]
    assert last["next"] is None


def test_default_page_size_is_20(api: OmnitronApi) -> None:
    """Without ``limit`` a page holds 20 rows (§8)."""
    body = api.get(api.ch("cities/"))
    assert len(body["results"]) == 20
    assert body["next"] is not None


def test_a_single_page_listing_carries_next_null(api: OmnitronApi) -> None:
    """A listing that fits one page still carries ``"next": null`` (the SDK pages otherwise)."""
    body = api.get(api.ch("cities/"), {"limit": 1000})
    assert len(body["results"]) == body["count"] == 81
    assert "next" in body
    assert body["next"] is None
    empty = api.get(api.ch("cities/"), {"name__iexact": "Atlantis"})
    assert empty["count"] == 0
    assert empty["results"] == []
    assert "next" in empty
    assert empty["next"] is None


LISTINGS = [
    "content_types/",
    "channel/1/countries/",
    "channel/1/cities/",
    "channel/1/townships/",
    "channel/1/districts/",
    "channel/1/retail_stores/",
    "channel/1/cargos/",
    "channel/1/customers/",
    "channel/1/addresses/",
    "channel/1/integration_actions/",
    "channel/1/batch_requests/",
    "channel/1/orders/",
    "channel/1/orders/updates/",
    "channel/1/order_items/",
    "channel/1/cancellation_reasons/",
    "channel/1/cancellation_requests/updates/",
    "channel/1/error_reports/",
]


@pytest.mark.parametrize("path", LISTINGS)
def test_every_listing_is_paged_and_ends_with_next_null(api: OmnitronApi, path: str) -> None:
    """Each listing the flows read is a DRF page; its last page says ``"next": null``."""
    body = api.get(path, {"limit": 1000})
    assert set(body) >= {"count", "next", "previous", "results"}
    assert isinstance(body["results"], list)
    assert body["count"] == len(body["results"])
    assert body["next"] is None
    assert body["previous"] is None


def test_limit_is_capped_at_1000(api: OmnitronApi) -> None:
    """``limit`` above 1000 still returns at most 1000 rows per page (§8)."""
    tag = unique("cap")
    for n in range(1001):
        api.post(
            api.ch("customers/"),
            {
                "channel": 1,
                "email": f"{tag}-{n}@example.com",
                "phone_number": f"+9050{n:08d}",
                "first_name": "Ali",
                "last_name": "Kaya",
                "channel_code": f"{tag}-{n}",
                "extra_field": {},
                "is_active": True,
            },
        )
    body = api.get(api.ch("customers/"), {"limit": 5000})
    assert body["count"] >= 1001
    assert len(body["results"]) == 1000
    assert body["next"] is not None


def test_integration_action_paging_with_sort_id(api: OmnitronApi) -> None:
    """Product integration actions (≥ 200) page with ``sort=id`` in ascending id order."""
    rows = api.all_pages(
        api.ch("integration_actions/"),
        {"channel": 1, "content_type_name": "product", "sort": "id", "limit": 50},
    )
    assert len(rows) >= 200
    ids = [row["pk"] if "pk" in row else row["id"] for row in rows]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


# --- error bodies ----------------------------------------------------------------------


def test_unknown_route_is_404_json(api: OmnitronApi) -> None:
    """An unknown path under the API answers 404 with a JSON body."""
    _json_error(api.raw("GET", "no_such_collection/"), 404)
    _json_error(api.raw("GET", api.ch("no_such_collection/")), 404)


def test_unknown_object_is_404_json(api: OmnitronApi) -> None:
    """Detail routes for a missing pk answer 404 with a JSON body."""
    _json_error(api.raw("GET", "channels/999/"), 404)
    _json_error(api.raw("GET", "catalogs/999/"), 404)
    _json_error(api.raw("PATCH", api.ch("customers/999999/"), json={"first_name": "X"}), 404)
    _json_error(api.raw("PATCH", api.ch("batch_requests/999999/"), json={"status": "done"}), 404)
    _json_error(api.raw("GET", api.ch("order_items/999999/")), 404)
    _json_error(
        api.raw("POST", api.ch("orders/999999/cancel/"), json={"order": 999999}),
        404,
    )


def test_wrong_method_is_405_json(api: OmnitronApi) -> None:
    """A method the route does not offer answers 405 with a JSON body."""
    customer = create_customer(api)
    _json_error(api.raw("DELETE", api.ch(f"customers/{customer['pk']}/")), 405)
    _json_error(api.raw("PUT", api.ch("cargos/"), json={}), 405)
    _json_error(api.raw("GET", "auth/login/"), 405)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("create_orders/", {"order": "not-an-object", "order_item": []}),
        ("customers/", {"channel": 1, "email": ["not", "a", "string"]}),
        ("batch_requests/", {"channel": "not-a-number"}),
    ],
)
def test_invalid_bodies_are_400_json(api: OmnitronApi, path: str, body: dict[str, Any]) -> None:
    """Validation errors are DRF-style 400s with a JSON body (never 422, never HTML)."""
    error = _json_error(api.raw("POST", api.ch(path), json=body), 400)
    assert isinstance(error, dict)
    assert error


def test_non_json_body_is_400_json(api: OmnitronApi) -> None:
    """A body that is not JSON is refused with a JSON 400."""
    response = api.raw(
        "POST",
        api.ch("customers/"),
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    _json_error(response, 400)
