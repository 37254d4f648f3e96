"""Products and cargo companies: the reference data orders point at."""

from __future__ import annotations

from service.omnitron.models.base import OmnitronModel, Pk, Text


class Product(OmnitronModel):
    """A product of the catalogue."""

    pk: Pk
    name: Text = ""
    sku: Text = ""
    base_code: Text = ""


class CargoCompany(OmnitronModel):
    """A cargo company (``{c}/cargos/``); orders reference it, channels by ``erp_code``."""

    pk: Pk
    name: Text = ""
    erp_code: Text = ""
    shipping_company: str | None = None
    is_active: bool = True
