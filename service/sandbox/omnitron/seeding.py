"""Deterministic demo data: locations, cargos, stores, products, reasons, channel."""

from __future__ import annotations

from datetime import datetime

from service.sandbox.omnitron.config import OmnitronSimConfig
from service.sandbox.omnitron.formats import iso, money
from service.sandbox.omnitron.schema import CONTENT_TYPE_IDS, Tables
from service.sandbox.seed import SandboxSeed

PRICE_LIST_ID = 1
STOCK_LIST_ID = 1
SALES_CHANNEL = "sales_channel"
# Spellings a marketplace uses that only a mapping resolves (exercises the fallback path).
CITY_MAPPINGS: tuple[tuple[str, str], ...] = (
    ("Istanbul", "İstanbul"),
    ("Izmir", "İzmir"),
    ("Antep", "Gaziantep"),
    ("Urfa", "Şanlıurfa"),
    ("Maras", "Kahramanmaraş"),
)
COUNTRY_MAPPINGS: tuple[str, ...] = ("Turkey", "Turkiye", "TR")
TOWNSHIP_MAPPINGS: tuple[tuple[str, str, str], ...] = (
    ("İstanbul", "Eyup", "Eyüpsultan"),
    ("İstanbul", "Kadikoy", "Kadıköy"),
    ("Ankara", "Cankaya", "Çankaya"),
)
FALLBACK_REASON_ID = 10
FALLBACK_REASON_NAME = "Diğer"


def _mapping(channel_id: int, value: str) -> list[dict[str, str]]:
    return [{"code": f"{channel_id}_{value}", "integration_type": SALES_CHANNEL}]


def seed_tables(
    tables: Tables, seed: SandboxSeed, config: OmnitronSimConfig, now: datetime
) -> None:
    """Fill empty tables with the demo data; the same inputs always give the same rows."""
    stamp = iso(now)
    cid = config.channel_id
    dates = {"created_date": stamp, "modified_date": stamp}

    for model, ct_id in CONTENT_TYPE_IDS.items():
        tables.content_types.insert(
            {"app_label": "omnitron", "model": model, "name": model}, pk=ct_id
        )

    country = tables.countries.insert(
        {
            "name": seed.country_name,
            "code": seed.country_code,
            "is_active": True,
            "mapping": [m for v in COUNTRY_MAPPINGS for m in _mapping(cid, v)],
            **dates,
        }
    )
    city_mapping = {target: alias for alias, target in CITY_MAPPINGS}
    township_mapping = {(city, target): alias for city, alias, target in TOWNSHIP_MAPPINGS}
    city_pks: dict[str, int] = {}
    township_pks: dict[tuple[str, str], int] = {}
    for city in seed.cities:
        alias = city_mapping.get(city.name)
        city_row = tables.cities.insert(
            {
                "name": city.name,
                "country": country["pk"],
                "plate": city.plate,
                "is_active": True,
                "mapping": _mapping(cid, alias) if alias else [],
                **dates,
            }
        )
        city_pks[city.name] = city_row["pk"]
        for township in city.townships:
            t_alias = township_mapping.get((city.name, township.name))
            township_row = tables.townships.insert(
                {
                    "name": township.name,
                    "country": country["pk"],
                    "city": city_row["pk"],
                    "is_active": True,
                    "mapping": _mapping(cid, t_alias) if t_alias else [],
                    **dates,
                }
            )
            township_pks[(city.name, township.name)] = township_row["pk"]
            for district in township.districts:
                tables.districts.insert(
                    {
                        "name": district,
                        "country": country["pk"],
                        "city": city_row["pk"],
                        "township": township_row["pk"],
                        "is_active": True,
                        "mapping": [],
                        **dates,
                    }
                )

    for cargo in seed.cargo_companies:
        tables.cargos.insert(
            {
                "name": cargo.name,
                "erp_code": cargo.erp_code,
                "shipping_company": cargo.shipping_company,
                **dates,
            }
        )
    for store in seed.retail_stores:
        tables.retail_stores.insert(
            {
                "name": store.name,
                "erp_code": store.erp_code,
                "city": city_pks.get(store.city),
                "township": township_pks.get((store.city, store.township)),
                "is_active": True,
                **dates,
            }
        )

    product_ct = CONTENT_TYPE_IDS["product"]
    for product in seed.products:
        row = tables.products.insert(
            {
                "name": product.name,
                "sku": product.sku,
                "base_code": product.base_code,
                "barcode": product.barcode,
                "product_type": "0",
                "is_active": True,
                "attributes": {"barcode": product.barcode},
                **dates,
            }
        )
        tables.product_prices.insert(
            {
                "product": row["pk"],
                "price_list": PRICE_LIST_ID,
                "price": money(product.price),
                "currency_type": "try",
                "tax_rate": money(product.tax_rate),
                "retail_price": money(product.price),
                **dates,
            }
        )
        tables.product_stocks.insert(
            {"product": row["pk"], "stock_list": STOCK_LIST_ID, "stock": 100, **dates}
        )
        if product.mapped:
            tables.integration_actions.insert(
                {
                    "channel": cid,
                    "content_type": product_ct,
                    "object_id": row["pk"],
                    "remote_id": product.sku,
                    "version_date": stamp,
                    "local_batch_id": None,
                    "status": "success",
                    "state": {},
                    **dates,
                }
            )

    for reason in seed.cancellation_reasons:
        tables.cancellation_reasons.insert(
            {
                "name": reason.name,
                "channel_code": reason.channel_code,
                "cancellation_type": reason.cancellation_type,
                "is_active": True,
                **dates,
            },
            pk=reason.omnitron_id,
        )
    if tables.cancellation_reasons.get(FALLBACK_REASON_ID) is None:
        tables.cancellation_reasons.insert(
            {
                "name": FALLBACK_REASON_NAME,
                "channel_code": None,
                "cancellation_type": "cancel",
                "is_active": True,
                **dates,
            },
            pk=FALLBACK_REASON_ID,
        )

    tables.catalogs.insert(
        {
            "name": "Sandbox catalog",
            "price_list": PRICE_LIST_ID,
            "stock_list": STOCK_LIST_ID,
            **dates,
        },
        pk=config.catalog_id,
    )
    tables.channels.insert(
        {
            "name": "Sandbox marketplace",
            "channel_type": "sales_channel",
            "catalog": config.catalog_id,
            "is_active": True,
            # No CUSTOMER_IDENTIFIER_FIELD: absent means e-mail (see docs/omnitron-api.md §8).
            "conf": {
                "reason_mapping": dict(seed.reason_mapping),
                "cancellation_reason_id": FALLBACK_REASON_ID,
                "send_shipping_info": False,
                "connection_pool_count": 1,
                "connection_pool_max_size": 10,
                "connection_pool_retry": 0,
            },
            "schema": {},
            **dates,
        },
        pk=cid,
    )
