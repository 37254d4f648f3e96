"""The cause of a failure read from its description, for reports written without one.

Flows name the cause where they know it (``ErrorReporter.failure(cause=...)``); this
reads it back from the description texts the flows write (their formats are in
``service/flows``), so reports stored before causes existed (the v4 migration) and
run-level failures get one too. The first rule that matches wins; a description no
rule knows is ``other``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from service.causes import Cause

Rule = tuple[re.Pattern[str], Cause, Callable[[re.Match[str]], str]]


def _group(name: str) -> Callable[[re.Match[str]], str]:
    return lambda match: match.group(name) or ""


def _none(_: re.Match[str]) -> str:
    return ""


_QUOTED = r"""(?:'(?P<value>[^']*)'|"(?P<dvalue>[^"]*)")"""


def _quoted(match: re.Match[str]) -> str:
    return match.group("value") or match.group("dvalue") or ""


# The order a parked record waits for: "line 5 of order 7000012", "cancel order 3100000023".
_WAITS_FOR = re.compile(r"\b(?:of|cancel) order (?P<order>[^\s;:,()]+)")


def _not_in_omnitron(match: re.Match[str]) -> str:
    found = _WAITS_FOR.search(match.string)
    return found.group("order") if found is not None else ""


_RULES: tuple[Rule, ...] = (
    (re.compile(rf"\bcountry {_QUOTED} not found"), Cause.UNKNOWN_COUNTRY, _quoted),
    (re.compile(rf"\bcity {_QUOTED} not found"), Cause.UNKNOWN_CITY, _quoted),
    (re.compile(rf"\btownship {_QUOTED} not found"), Cause.UNKNOWN_TOWNSHIP, _quoted),
    (re.compile(rf"\bdistrict {_QUOTED} not found"), Cause.UNKNOWN_DISTRICT, _quoted),
    (re.compile(rf"\bcargo company {_QUOTED} not found"), Cause.UNKNOWN_CARGO, _quoted),
    (re.compile(r"\bno cargo company given"), Cause.UNKNOWN_CARGO, _none),
    (re.compile(rf"\bproduct not found for SKU {_QUOTED}"), Cause.UNMAPPED_SKU, _quoted),
    (
        re.compile(r"\be-?mail is (?:missing|required)|customer has no email"),
        Cause.MISSING_EMAIL,
        _none,
    ),
    (
        re.compile(r"customer has no phone number|phone(?:_number)? is (?:missing|required)"),
        Cause.MISSING_PHONE,
        _none,
    ),
    (
        re.compile(rf"\b\w*(?:price|amount|total)\w* {_QUOTED} is not a decimal"),
        Cause.BAD_AMOUNT,
        _quoted,
    ),
    (re.compile(r"\b\w*(?:price|amount|total)\w* is missing"), Cause.BAD_AMOUNT, _none),
    (
        re.compile(
            r"^order (?P<number>\S+): (?:the number is already used by Omnitron order"
            r"|Omnitron holds several orders with this number)"
        ),
        Cause.DUPLICATE_NUMBER,
        _group("number"),
    ),
    (re.compile(r"\bthe order is not in Omnitron"), Cause.ORDER_NOT_IN_OMNITRON, _not_in_omnitron),
    (re.compile(r"did not answer|not reachable|could not connect|timed out"), Cause.NETWORK, _none),
    (re.compile(r"Omnitron refused"), Cause.OMNITRON_REFUSED, _none),
    (
        re.compile(r"marketplace refused|channel refused|the channel gave no result"),
        Cause.CHANNEL_REFUSED,
        _none,
    ),
)


def classify(description: str) -> tuple[Cause, str]:
    """The cause of a failure described by ``description`` and the value it names."""
    for pattern, cause, value in _RULES:
        match = pattern.search(description)
        if match is not None:
            return cause, value(match)
    return Cause.OTHER, ""
