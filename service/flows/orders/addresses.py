"""Shipping and billing addresses: resolve the location chain, then get-or-create.

Country → city → township (if given) → district (if given and a township resolved),
each by name and then by the channel's mapping code (the client tries both). An
unknown city, township or district is reported to Omnitron's location error reports
once per run, so the operator sees which mapping to make, and fails this order.
"""

from __future__ import annotations

import hashlib
import json

from service.causes import Cause
from service.channel.models import ChannelAddress
from service.flows.orders.errors import OrderRejected
from service.flows.orders.lookups import Memo, OrderLookups
from service.omnitron.client import OmnitronClient
from service.omnitron.errors import OmnitronBadRequest, OmnitronNotFound
from service.omnitron.models import AddressCreate, Customer, LocationKind

# Addresses remembered per run: repeat buyers come back within days, not a run apart.
RECENT_ADDRESSES = 2_000


class AddressBook:
    """Addresses of this run: an identical address is posted once (among the recent)."""

    def __init__(self, omnitron: OmnitronClient, lookups: OrderLookups) -> None:
        self._omnitron = omnitron
        self._lookups = lookups
        self._posted = Memo(limit=RECENT_ADDRESSES)

    def get_or_create(
        self, number: str, role: str, address: ChannelAddress, customer: Customer
    ) -> int:
        """The pk of the Omnitron address for the order's ``role`` ("shipping"/"billing")."""
        body = self.build(number, role, address, customer)
        # A digest of the body, and only the pk, are remembered: a long run's memo
        # stays small.
        text = json.dumps(body.to_json(), sort_keys=True, ensure_ascii=False)
        key = hashlib.blake2b(text.encode(), digest_size=16).digest()
        try:
            # Omnitron deduplicates by content hash; the client reuses the existing one.
            return self._posted.get(key, lambda: self._omnitron.create_address(body).pk)
        except (OmnitronBadRequest, OmnitronNotFound) as exc:
            raise OrderRejected(
                f"order {number}: Omnitron refused the {role} address: {exc}",
                cause=Cause.OMNITRON_REFUSED,
                raw=exc.exchange,
            ) from None

    def build(
        self, number: str, role: str, address: ChannelAddress, customer: Customer
    ) -> AddressCreate:
        """The address body with every location resolved (raises :class:`OrderRejected`)."""
        lookups = self._lookups
        where = f"order {number}: {role} address"
        country = lookups.country(address.country or "tr")
        if country is None:
            raise OrderRejected(
                f"{where}: country {address.country!r} not found",
                cause=Cause.UNKNOWN_COUNTRY,
                value=address.country or "",
            )
        city = lookups.city(country.pk, address.city)
        if city is None:
            lookups.report_missing_location(
                LocationKind.CITY, name=address.city, country_id=country.pk
            )
            raise OrderRejected(
                f"order {number}: city {address.city!r} not found in "
                f"{country.name or country.code}",
                cause=Cause.UNKNOWN_CITY,
                value=address.city,
            )
        township_pk = district_pk = None
        if address.township:
            township = lookups.township(country.pk, city.pk, address.township)
            if township is None:
                lookups.report_missing_location(
                    LocationKind.TOWNSHIP, name=address.township, city_id=city.pk
                )
                raise OrderRejected(
                    f"order {number}: township {address.township!r} not found in {city.name}",
                    cause=Cause.UNKNOWN_TOWNSHIP,
                    value=address.township,
                )
            township_pk = township.pk
        if address.district and township_pk is not None:
            district = lookups.district(country.pk, city.pk, township_pk, address.district)
            if district is None:
                lookups.report_missing_location(
                    LocationKind.DISTRICT,
                    name=address.district,
                    city_id=city.pk,
                    township_id=township_pk,
                )
                raise OrderRejected(
                    f"order {number}: district {address.district!r} not found in "
                    f"{address.township}, {city.name}",
                    cause=Cause.UNKNOWN_DISTRICT,
                    value=address.district,
                )
            district_pk = district.pk
        store_pk = None
        if address.retail_store:
            store = lookups.retail_store(address.retail_store)
            if store is None:
                raise OrderRejected(
                    f"order {number}: retail store {address.retail_store!r} not found"
                )
            store_pk = store.pk
        return AddressCreate(
            customer=customer.pk,
            country=country.pk,
            city=city.pk,
            township=township_pk,
            district=district_pk,
            email=address.email or customer.email,
            phone_number=address.phone_number,
            first_name=address.first_name,
            last_name=address.last_name,
            title=address.title,
            line=address.line,
            postcode=address.postcode,
            company_name=address.company_name,
            tax_office=address.tax_office,
            tax_no=address.tax_no,
            e_bill_taxpayer=address.e_bill_taxpayer,
            identity_number=address.identity_number,
            retail_store=store_pk,
        ).with_customer_names(customer)
