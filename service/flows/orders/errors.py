"""Why one order could not be created: a failure of that order alone."""

from __future__ import annotations

from service.causes import Cause
from service.net.exchange import RawExchange
from service.omnitron.models.batch import FailedReasonType


class OrderRejected(Exception):
    """This order cannot be created now; the run goes on with the others.

    ``description`` names the order and the cause for the operator; ``raw`` is the
    failing exchange when a call failed. ``retryable`` orders are parked: a later
    run tries again after the operator fixed the mapping. ``cause`` (one of
    :class:`Cause`) and ``value`` (what was not found or refused: the city, the SKU)
    say what to fix.
    """

    def __init__(
        self,
        description: str,
        *,
        cause: Cause = Cause.OTHER,
        value: str = "",
        raw: RawExchange | None = None,
        reason: FailedReasonType = FailedReasonType.MAPPING,
        retryable: bool = True,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.cause = cause
        self.value = value
        self.raw = raw
        self.reason = reason
        self.retryable = retryable
