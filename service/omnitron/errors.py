"""What can go wrong talking to Omnitron, as exceptions a flow can tell apart.

Every exception carries the redacted :class:`~service.net.exchange.RawExchange` of
the call that failed (for the error report) and the HTTP status when there was one.
Messages are written for the operator and never contain a password or token.
"""

from __future__ import annotations

from typing import Any

from service.net.exchange import RawExchange

BATCH_TRANSITION_CODE = "batch_request_status_100_1"
BATCH_LOCK_CODE = "batch_request_status_100_2"


class OmnitronError(Exception):
    """Any failed call to Omnitron."""

    def __init__(
        self,
        message: str,
        *,
        exchange: RawExchange | None = None,
        status_code: int | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exchange = exchange
        self.status_code = (
            status_code if status_code is not None else (exchange.status_code if exchange else None)
        )
        # The decoded JSON error body (already redacted), when there was one.
        self.body = body

    def __str__(self) -> str:
        return self.message


class OmnitronAuthError(OmnitronError):
    """Login was refused, or a fresh token was refused again (wrong user or password)."""


class OmnitronUnavailable(OmnitronError):
    """Omnitron did not answer usefully in time: retries or the deadline ran out.

    ``maybe_processed`` is true when the last try may have reached Omnitron and
    been handled (a 5xx, a read timeout, a connection dropped after sending) — a
    write must then be checked before it is repeated.
    """

    def __init__(self, message: str, *, maybe_processed: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.maybe_processed = maybe_processed


class OmnitronOutage(OmnitronUnavailable):
    """Omnitron failed every request for a sustained time: the circuit breaker opened.

    Ends the run (a single failure never does). ``failures`` requests in a row failed
    over ``seconds``; :meth:`sentence` tells the operator, with the run's counts.
    """

    def __init__(self, *, failures: int, seconds: float, last_error: str = "") -> None:
        self.failures = failures
        self.seconds = seconds
        self.last_error = last_error
        super().__init__(self.sentence())

    def sentence(self, *, done: int | None = None, total: int | None = None, noun: str = "") -> str:
        """One line for the operator, e.g. ``… the run stopped after 12 of 60 orders; …``.

        ``done`` (and ``total``, when known) are the run's counts of ``noun``.
        """
        stopped = "the run stopped"
        if done is not None:
            of = f" of {total}" if total is not None else ""
            stopped += f" after {done}{of} {noun}".rstrip()
        return (
            f"Omnitron did not answer for {max(1, round(self.seconds))} s "
            f"({self.failures} requests in a row failed); {stopped}; nothing was lost — "
            "run it again when Omnitron is back."
        )


class OmnitronNotFound(OmnitronError):
    """The object does not exist (404), or a lookup expecting one match found none."""


class OmnitronBadRequest(OmnitronError):
    """Omnitron rejected the request's content (400): the body says which field."""


class AddressDuplicate(OmnitronBadRequest):
    """An address POST was refused as a duplicate of an existing address."""

    def __init__(self, message: str, *, hash_data: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.hash_data = hash_data


class OmnitronConflict(OmnitronError):
    """The request conflicts with the object's state (HTTP 406/409)."""


class BatchTransitionRefused(OmnitronConflict):
    """A batch request status change was refused.

    ``code`` is ``batch_request_status_100_1`` for an illegal transition and
    ``batch_request_status_100_2`` when another batch of the content type holds
    the commit lock.
    """

    def __init__(self, message: str, *, code: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.code = code

    @property
    def is_lock(self) -> bool:
        """Whether the refusal is the per-content-type commit lock."""
        return self.code == BATCH_LOCK_CODE


class OmnitronMultipleFound(OmnitronError):
    """A lookup that must find exactly one object found several."""


class OmnitronResponseInvalid(OmnitronError):
    """Omnitron answered 2xx with a body that does not parse as expected."""


class OmnitronPagingError(OmnitronError):
    """A listing did not end within the page limit (a paging loop was cut)."""


def address_hash_from(body: Any) -> str | None:
    """The ``<hash>`` of a duplicate-address refusal, or ``None`` if ``body`` is not one.

    Omnitron answers ``{"non_field_errors": "hash_data:<hash> ..."}``: a string whose
    first whitespace-separated token is ``hash_data:<hash>``. A list holding such a
    string is accepted too (DRF's usual shape for ``non_field_errors``).
    """
    if not isinstance(body, dict):
        return None
    value = body.get("non_field_errors")
    candidates = value if isinstance(value, list) else [value]
    for candidate in candidates:
        if not isinstance(candidate, str) or not candidate.strip():
            continue
        label, _, digest = candidate.split()[0].partition(":")
        if label == "hash_data" and digest:
            return digest
    return None
