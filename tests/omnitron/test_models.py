"""Unit tests of the Omnitron models, query encoding and error-body parsing."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import SecretStr, ValidationError

from service.omnitron.errors import address_hash_from
from service.omnitron.models import (
    AddressCreate,
    BatchObject,
    BatchRequest,
    BatchStatus,
    CancelOrderRequest,
    Channel,
    FailedReasonType,
    LocationErrorReportCreate,
    LocationKind,
    OrderItemUpdate,
)
from service.omnitron.query import encode_query
from service.omnitron.settings import OmnitronSettings


def test_query_encoding_follows_omnitron_conventions() -> None:
    pairs = encode_query(
        {
            "status": ["sent_to_remote", BatchStatus.ONGOING],
            "pk__in": [1, 2, 3],
            "is_active": True,
            "skip": None,
            "name": "İzmir",
        }
    )
    assert pairs == [
        ("status", "sent_to_remote"),
        ("status", "ongoing"),
        ("pk__in", "1,2,3"),
        ("is_active", "True"),
        ("name", "İzmir"),
    ]


def test_address_hash_is_read_from_string_or_list() -> None:
    assert address_hash_from({"non_field_errors": "hash_data:ab12 already exists"}) == "ab12"
    assert address_hash_from({"non_field_errors": ["hash_data:cd34 exists"]}) == "cd34"
    assert address_hash_from({"non_field_errors": "something else"}) is None
    assert address_hash_from({"line": ["required"]}) is None
    assert address_hash_from(None) is None


def test_channel_conf_reads_identifier_as_text_and_defaults() -> None:
    channel = Channel.model_validate({"pk": 1, "name": "M", "conf": None})
    assert channel.conf.customer_identifier_field == "email"
    channel = Channel.model_validate(
        {
            "pk": 1,
            "conf": {
                "CUSTOMER_IDENTIFIER_FIELD": "phone_number",
                "reason_mapping": {"R1": "4"},
                "cancellation_reason_id": 2,
                "connection_pool_count": 3,
            },
            "unknown": 1,
        }
    )
    assert channel.conf.customer_identifier_field == "phone_number"
    assert channel.conf.reason_mapping == {"R1": 4}
    assert channel.conf.model_extra == {"connection_pool_count": 3}


def test_batch_status_finality_and_object_shape() -> None:
    assert BatchStatus.DONE.is_final
    assert BatchStatus.FAIL.is_final
    assert not any(s.is_final for s in BatchStatus if s not in (BatchStatus.DONE, BatchStatus.FAIL))
    batch = BatchRequest.model_validate(
        {"pk": 4, "local_batch_id": "u-1", "status": "commit", "objects": None}
    )
    assert batch.objects == []
    obj = BatchObject(pk=1, version_date="2026-01-01T00:00:00.1Z", content_type="order")
    assert obj.to_json() == {
        "pk": 1,
        "version_date": "2026-01-01T00:00:00.1Z",
        "content_type": "order",
        "failed_reason_type": None,
    }
    failed = obj.model_copy(update={"failed_reason_type": FailedReasonType.REMOTE})
    assert failed.to_json()["failed_reason_type"] == "remote"


def test_address_body_is_truncated_and_json_safe() -> None:
    body = AddressCreate(
        customer=1, country=1, city="2", line="x" * 300, tax_no="1" * 30, notes=None
    ).to_json()
    assert len(body["line"]) == 255
    assert len(body["tax_no"]) == 20
    assert body["notes"] == ""
    assert body["city"] == 2
    json.dumps(body)


def test_cancel_request_amount_is_a_string_and_reasons_match_items() -> None:
    body = CancelOrderRequest(
        order=5, cancel_items=[7, 8], reasons={7: 3}, forced_refund_amount=Decimal("12.50")
    ).to_json()
    assert body == {
        "order": 5,
        "cancel_items": [7, 8],
        "reasons": {"7": 3},
        "forced_refund_amount": "12.50",
    }
    with pytest.raises(ValidationError, match="not cancelled"):
        CancelOrderRequest(order=5, cancel_items=[7], reasons={"9": 3})


def test_item_update_sends_only_non_empty_fields() -> None:
    assert OrderItemUpdate(status="500", tracking_number="", invoice_number=None).to_json() == {
        "status": "500"
    }


def test_location_reports_carry_what_each_kind_needs() -> None:
    city = LocationErrorReportCreate.for_kind(
        LocationKind.CITY, channel_id=1, name="Atlantis", country_id=1
    ).to_json()
    assert city["remote_code"] == "1_Atlantis"
    assert city["err_code"] == "integrations_200_10_2"
    assert "name" not in city
    district = LocationErrorReportCreate.for_kind(
        "district", channel_id=1, name="Moda", city_id=3, township_id=4
    ).to_json()
    assert district["township_id"] == 4
    assert district["name"] == "Moda"
    with pytest.raises(ValueError, match="township_id"):
        LocationErrorReportCreate.for_kind("district", channel_id=1, name="Moda", city_id=3)


def test_settings_hide_the_password() -> None:
    settings = OmnitronSettings(
        base_url="http://h", username="u", password=SecretStr("pw!"), channel_id=1, catalog_id=1
    )
    assert settings.api_url == "http://h/api/v1/"
    assert "pw!" not in repr(settings)
    assert "pw!" not in settings.model_dump_json()
