"""Get-or-create the order's customer, matched by the channel's identifier field."""

from __future__ import annotations

from typing import cast

from service.causes import Cause
from service.channel.models import ChannelCustomer
from service.flows.orders.errors import OrderRejected
from service.flows.orders.lookups import Memo, OrderLookups
from service.omnitron.client import OmnitronClient
from service.omnitron.errors import OmnitronBadRequest, OmnitronMultipleFound
from service.omnitron.models import Customer, CustomerCreate

# Fields an existing customer is brought up to date on (only when they changed).
UPDATABLE = ("first_name", "last_name", "email", "phone_number")


# Customers remembered per run, most recent first: enough for repeat buyers, bounded
# so that a long run's memory stays flat.
RECENT_CUSTOMERS = 2_000


class CustomerBook:
    """Customers of this run, by identifier: each is found or created once (among the
    recent ones).

    Callers hold the customer's keyed lock, so two orders of one customer never
    both create it.
    """

    def __init__(self, omnitron: OmnitronClient, lookups: OrderLookups) -> None:
        self._omnitron = omnitron
        self._lookups = lookups
        self._known = Memo(limit=RECENT_CUSTOMERS)

    def identifier(self, customer: ChannelCustomer) -> tuple[str, str]:
        """The configured identifier field and this customer's value of it (as text)."""
        field = self._lookups.customer_identifier_field
        return field, str(getattr(customer, field, "") or "").strip()

    def get_or_create(self, number: str, customer: ChannelCustomer) -> Customer:
        """The Omnitron customer for ``customer``: found and updated, or created."""
        field, value = self.identifier(customer)
        if not value:
            raise OrderRejected(
                f"order {number}: the customer has no {field.replace('_', ' ')}",
                cause=Cause.MISSING_PHONE if field == "phone_number" else Cause.MISSING_EMAIL,
            )
        found = cast(Customer | None, self._known.peek(value))
        try:
            if found is None:
                found = self._omnitron.find_customer(field, value)
            if found is None:
                found = self._omnitron.create_customer(
                    CustomerCreate(
                        email=customer.email,
                        phone_number=customer.phone_number,
                        first_name=customer.first_name,
                        last_name=customer.last_name,
                        channel_code=customer.channel_code,
                        extra_field=dict(customer.extra_field),
                    ),
                    identifier_field=field,
                )
            else:
                changes = _changes(found, customer)
                if changes:
                    found = self._omnitron.patch_customer(found.pk, changes)
        except OmnitronMultipleFound as exc:
            raise OrderRejected(
                f"order {number}: several customers have {field} {value!r}",
                cause=Cause.OMNITRON_REFUSED,
                raw=exc.exchange,
            ) from None
        except OmnitronBadRequest as exc:
            raise OrderRejected(
                f"order {number}: Omnitron refused the customer {value!r}: {exc}",
                cause=Cause.OMNITRON_REFUSED,
                raw=exc.exchange,
            ) from None
        self._known.put(value, found)
        return found


def _changes(current: Customer, wanted: ChannelCustomer) -> dict[str, str]:
    """Names, e-mail and phone the channel now has differently (empty never overwrites)."""
    changes = {
        name: getattr(wanted, name)
        for name in UPDATABLE
        if getattr(wanted, name) and getattr(wanted, name) != getattr(current, name)
    }
    if changes and wanted.channel_code:
        changes["channel_code"] = wanted.channel_code
    return changes
