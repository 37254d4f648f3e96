"""Why an item failed: a fixed set of causes, each with a plain explanation and a next step.

Every failure report carries one :class:`Cause` and, where it names something, the
value that was not found or was refused (the city ``Istambul``, the SKU ``ABC-42``).
The open failures of one (cause, value) are one *problem* for the operator; causes a
mapping can fix name the kind of mapping (:attr:`CauseInfo.fix`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Fix = Literal["city", "township", "district", "cargo", "sku"]


class Cause(StrEnum):
    """The causes a failure report can have (stored as these codes)."""

    UNKNOWN_COUNTRY = "unknown_country"
    UNKNOWN_CITY = "unknown_city"
    UNKNOWN_TOWNSHIP = "unknown_township"
    UNKNOWN_DISTRICT = "unknown_district"
    UNKNOWN_CARGO = "unknown_cargo"
    UNMAPPED_SKU = "unmapped_sku"
    MISSING_EMAIL = "missing_email"
    MISSING_PHONE = "missing_phone"
    BAD_AMOUNT = "bad_amount"
    DUPLICATE_NUMBER = "duplicate_number"
    ORDER_NOT_IN_OMNITRON = "order_not_in_omnitron"
    OMNITRON_REFUSED = "omnitron_refused"
    CHANNEL_REFUSED = "channel_refused"
    NETWORK = "network"
    OTHER = "other"


@dataclass(frozen=True)
class CauseInfo:
    """How a cause reads to an operator."""

    title: str
    what_to_do: str
    fix: Fix | None = None


CAUSES: dict[Cause, CauseInfo] = {
    Cause.UNKNOWN_COUNTRY: CauseInfo(
        "Unknown country",
        "Omnitron has no active country by this code or name; ask the channel for the "
        "country code (e.g. tr) or activate the country in Omnitron, then retry.",
    ),
    Cause.UNKNOWN_CITY: CauseInfo(
        "Unknown city",
        "Map the channel's spelling to an Omnitron city (Fix), then retry the orders.",
        "city",
    ),
    Cause.UNKNOWN_TOWNSHIP: CauseInfo(
        "Unknown township",
        "Map the channel's spelling to an Omnitron township of that city (Fix), then retry.",
        "township",
    ),
    Cause.UNKNOWN_DISTRICT: CauseInfo(
        "Unknown district",
        "Map the channel's spelling to an Omnitron district of that township (Fix), then retry.",
        "district",
    ),
    Cause.UNKNOWN_CARGO: CauseInfo(
        "Unknown cargo company",
        "Map the channel's cargo code to one of Omnitron's cargo companies (Fix), then retry.",
        "cargo",
    ),
    Cause.UNMAPPED_SKU: CauseInfo(
        "Unmapped product",
        "Link the channel's SKU to an Omnitron product (Fix creates its integration "
        "action), then retry.",
        "sku",
    ),
    Cause.MISSING_EMAIL: CauseInfo(
        "Missing e-mail",
        "The customer is looked up by e-mail and the channel sent none; ask the channel "
        "to complete the order, or look customers up by phone in Omnitron's channel "
        "settings, then retry.",
    ),
    Cause.MISSING_PHONE: CauseInfo(
        "Missing phone number",
        "The customer is looked up by phone and the channel sent none; ask the channel "
        "to complete the order, then retry.",
    ),
    Cause.BAD_AMOUNT: CauseInfo(
        "Malformed amount",
        "The channel sent an amount that is not a number; it must correct the order. "
        "Nothing to fix on this side.",
    ),
    Cause.DUPLICATE_NUMBER: CauseInfo(
        "Duplicate order number",
        "Omnitron already holds another order with this number; check it in Omnitron. "
        "Nothing is created twice, so no retry is needed.",
    ),
    Cause.ORDER_NOT_IN_OMNITRON: CauseInfo(
        "Order not in Omnitron yet",
        "The order has not been created in Omnitron; fix why its creation failed (see "
        "Problems), run Fetch orders, and this item is applied by the next run.",
    ),
    Cause.OMNITRON_REFUSED: CauseInfo(
        "Refused by Omnitron",
        "Omnitron rejected the data; read its answer under Raw response, correct the data "
        "or the settings it names, then retry.",
    ),
    Cause.CHANNEL_REFUSED: CauseInfo(
        "Refused by the channel",
        "The channel rejected the update; read its answer under Raw response and fix the "
        "order on the channel's side, then retry.",
    ),
    Cause.NETWORK: CauseInfo(
        "Not reachable",
        "A system did not answer in time; nothing was lost — the next run retries it.",
    ),
    Cause.OTHER: CauseInfo(
        "Other failure",
        "Read the description and the raw answer; if it keeps happening, report it with "
        "the raw request and response.",
    ),
}


def info(cause: str) -> CauseInfo:
    """How ``cause`` (a stored code) reads; unknown or empty codes read as ``other``."""
    try:
        return CAUSES[Cause(cause)]
    except ValueError:
        return CAUSES[Cause.OTHER]
