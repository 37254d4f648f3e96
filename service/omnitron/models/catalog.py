"""Products and cargo companies: the reference data orders point at."""

from __future__ import annotations

from typing import Any

from service.omnitron.models.base import OmnitronModel, Pk, Text


class Product(OmnitronModel):
    """A product of the catalogue; its barcode is one of its ``attributes``."""

    pk: Pk
    name: Text = ""
    sku: Text = ""
    base_code: Text = ""
    is_active: bool = True
    attributes: dict[str, Any] | None = None
    modified_date: str | None = None

    @property
    def barcode(self) -> str:
        """The ``barcode`` attribute, or ``""``."""
        value = (self.attributes or {}).get("barcode")
        return "" if value is None else str(value)


class CargoCompany(OmnitronModel):
    """A cargo company (``{c}/cargos/``); orders reference it, channels by ``erp_code``."""

    pk: Pk
    name: Text = ""
    erp_code: Text = ""
    shipping_company: str | None = None
    is_active: bool = True
