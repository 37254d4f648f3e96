"""Countries, cities, townships, districts and retail stores."""

from __future__ import annotations

from enum import StrEnum

from service.omnitron.models.base import OmnitronModel, OptionalRef, Pk, Text


class LocationKind(StrEnum):
    """The location levels that can be missing and reported (``error_reports/{type}/``)."""

    CITY = "city"
    TOWNSHIP = "township"
    DISTRICT = "district"

    @property
    def error_code(self) -> str:
        """Omnitron's error code for an unknown location of this kind."""
        return {
            LocationKind.CITY: "integrations_200_10_2",
            LocationKind.TOWNSHIP: "integrations_200_10_1",
            LocationKind.DISTRICT: "integrations_200_10_3",
        }[self]


class Country(OmnitronModel):
    """A country (code is lower-case two letters, e.g. ``tr``)."""

    pk: Pk
    name: Text = ""
    code: Text = ""
    is_active: bool = True


class City(OmnitronModel):
    """A city of a country."""

    pk: Pk
    name: Text = ""
    country: OptionalRef = None
    is_active: bool = True


class Township(OmnitronModel):
    """A township (ilçe) of a city."""

    pk: Pk
    name: Text = ""
    country: OptionalRef = None
    city: OptionalRef = None
    is_active: bool = True


class District(OmnitronModel):
    """A district (mahalle) of a township."""

    pk: Pk
    name: Text = ""
    country: OptionalRef = None
    city: OptionalRef = None
    township: OptionalRef = None
    is_active: bool = True


class RetailStore(OmnitronModel):
    """A retail store, for store-pickup addresses."""

    pk: Pk
    name: Text = ""
    erp_code: Text = ""
    is_active: bool = True
