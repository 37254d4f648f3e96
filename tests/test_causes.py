"""The causes of failures: the fixed set and how each reads."""

from __future__ import annotations

from service.causes import CAUSES, Cause, info

REQUIRED = {
    "unknown_city",
    "unknown_township",
    "unknown_district",
    "unknown_cargo",
    "unmapped_sku",
    "missing_email",
    "missing_phone",
    "bad_amount",
    "duplicate_number",
    "order_not_in_omnitron",
    "omnitron_refused",
    "channel_refused",
    "network",
}


def test_every_required_cause_exists_with_a_title_and_a_next_step() -> None:
    assert {cause.value for cause in Cause} >= REQUIRED
    for cause in Cause:
        described = CAUSES[cause]
        assert described.title
        # One sentence an operator can act on.
        assert described.what_to_do.endswith(".")


def test_mapping_causes_name_their_fix() -> None:
    fixes = {cause.value: CAUSES[cause].fix for cause in Cause if CAUSES[cause].fix}
    assert fixes == {
        "unknown_city": "city",
        "unknown_township": "township",
        "unknown_district": "district",
        "unknown_cargo": "cargo",
        "unmapped_sku": "sku",
    }


def test_unknown_codes_read_as_other() -> None:
    assert info("") == CAUSES[Cause.OTHER]
    assert info("no_such_cause") == CAUSES[Cause.OTHER]
    assert info("unknown_city").title == "Unknown city"
