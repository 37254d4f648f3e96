"""create_order: one channel order into Omnitron, isolated and idempotent.

Steps (docs/omnitron-api.md §4, with the §6 defects fixed): the pipeline has already
looked up the order integration actions of its whole window (one request for many
orders), so an order linked to this channel order is skipped without a request of its
own. For the others: cargo company and product pks from the run's caches, customer
and both addresses under the customer's lock, the create (the client looks before it
retries a lost answer), and the new order's items. The order and its items are
returned as batch objects; the pipeline commits a window's objects at once.

Omnitron keeps an order number unique within a channel (§9), so no lookup by number
precedes the create: a refused create is followed by one. It finds an order that
exists without its integration actions (a crash between create and commit, §6.5),
which is linked instead, or one of another channel order (a duplicate number).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from service.causes import Cause
from service.channel.models import ChannelOrder
from service.flows.orders.addresses import AddressBook
from service.flows.orders.customers import CustomerBook
from service.flows.orders.errors import OrderRejected
from service.flows.orders.locks import KeyedLocks
from service.flows.orders.lookups import OrderLookups
from service.flows.run import FlowRun
from service.omnitron.errors import OmnitronBadRequest, OmnitronMultipleFound, OmnitronNotFound
from service.omnitron.models import (
    BatchObject,
    Catalog,
    IntegrationAction,
    IntegrationStatus,
    Order,
    OrderCreate,
    OrderItem,
)
from service.omnitron.models.order import (
    STATUS_APPROVED,
    OrderCreateOrder,
    OrderItemCreate,
)

CENT = Decimal("0.01")


class Outcome(StrEnum):
    """What happened to one channel order."""

    CREATED = "created"
    LINKED = "linked"  # existed without integration actions; committed now
    SKIPPED = "skipped"  # existed and linked to this channel order already


@dataclass(frozen=True)
class OrderDone:
    """The result of :meth:`OrderCreator.create` for one order.

    ``objects`` (the order and its items) are still to be committed on the batch.
    """

    outcome: Outcome
    objects: tuple[BatchObject, ...] = ()


def split_amount(total: Decimal, parts: int) -> list[Decimal]:
    """Split ``total`` into ``parts`` cent amounts that add up to it exactly.

    The cents that do not divide evenly go one each to the first units:
    ``split_amount(Decimal("10.00"), 3)`` is ``[3.34, 3.33, 3.33]``.
    """
    if parts < 1:
        raise ValueError("parts must be at least 1")
    cents = int((total.quantize(CENT, rounding=ROUND_HALF_UP) / CENT).to_integral_value())
    base, remainder = divmod(cents, parts)
    return [(Decimal(base + (1 if i < remainder else 0)) * CENT) for i in range(parts)]


def build_order_create(
    channel_order: ChannelOrder,
    *,
    channel_id: int,
    customer: int,
    shipping_address: int,
    billing_address: int,
    cargo_company: int,
    products: Mapping[str, int],
    catalog: Catalog | None,
) -> OrderCreate:
    """The ``create_orders`` body: the order and one item per unit (§4 (6)).

    The channel's DTO is read, never changed: ``extra_field`` dicts are copies with
    ``id`` set to the channel's id. A line's discount is for all its units together
    and is split per unit to the cent.
    """
    order = OrderCreateOrder(
        number=channel_order.number,
        status=channel_order.status or STATUS_APPROVED,
        channel=channel_id,
        customer=customer,
        shipping_address=shipping_address,
        billing_address=billing_address,
        currency=channel_order.currency,
        amount=channel_order.amount,
        shipping_amount=channel_order.shipping_amount,
        shipping_tax_rate=channel_order.shipping_tax_rate,
        extra_field={**channel_order.extra_field, "id": channel_order.remote_id},
        delivery_type=channel_order.delivery_type,
        cargo_company=cargo_company,
        discount_amount=channel_order.discount_amount,
        net_shipping_amount=channel_order.shipping_amount,
        tracking_number="",
        carrier_shipping_code="",
        remote_addr="",
        has_gift_box=False,
        gift_box_note="",
        client_type="",
        language_code="",
        notes=channel_order.notes,
        delivery_range="",
        shipping_option_slug="",
        date_placed=channel_order.created_at,
    )
    items: list[OrderItemCreate] = []
    for line in channel_order.lines:
        for discount in split_amount(line.discount_amount, line.quantity):
            items.append(
                OrderItemCreate(
                    product=products[line.product],
                    status=line.status or STATUS_APPROVED,
                    price_currency=line.price_currency or channel_order.currency,
                    price=line.price,
                    tax_rate=line.tax_rate,
                    extra_field={**line.extra_field, "id": line.remote_id},
                    price_list=None if catalog is None else catalog.price_list,
                    stock_list=None if catalog is None else catalog.stock_list,
                    tracking_number="",
                    carrier_shipping_code="",
                    discount_amount=discount,
                    retail_price=line.retail_price,
                    # Not known at creation: never borrowed from another field (§6.9).
                    delivered_date=None,
                    estimated_delivery_date=None,
                )
            )
    return OrderCreate(order=order, order_item=items)


def batch_objects(order: Order, items: Sequence[OrderItem], remote_id: str) -> list[BatchObject]:
    """The order and its items as batch objects, with their channel ids and versions."""
    objects = [
        BatchObject(
            pk=order.pk, version_date=order.modified_date, content_type="order", remote_id=remote_id
        )
    ]
    objects.extend(
        BatchObject(
            pk=item.pk,
            version_date=item.modified_date,
            content_type="orderitem",
            remote_id=item.remote_id,
        )
        for item in items
    )
    return objects


class OrderCreator:
    """Creates channel orders in Omnitron for one run; safe to call from worker threads."""

    def __init__(self, run: FlowRun, lookups: OrderLookups) -> None:
        self._run = run
        self._omnitron = run.omnitron
        self.lookups = lookups
        self.customers = CustomerBook(run.omnitron, lookups)
        self.addresses = AddressBook(run.omnitron, lookups)
        self._numbers = KeyedLocks()
        self._customers = KeyedLocks()

    def create(self, channel_order: ChannelOrder, action: IntegrationAction | None) -> OrderDone:
        """Create (or link, or skip) one order; :class:`OrderRejected` when it cannot.

        ``action`` is this channel order's order integration action, if it has one.
        """
        number = channel_order.number
        # Same number: one at a time, so the second one sees the first in Omnitron.
        with self._numbers.hold(number):
            if action is not None and action.status == IntegrationStatus.SUCCESS:
                self._run.ctx.event(
                    "order.skipped", number, f"Order {number} is in Omnitron already (linked)."
                )
                return OrderDone(Outcome.SKIPPED)
            if action is not None:
                # Linked, but its last batch did not end well: look at the order itself.
                existing = self._find(number)
                if existing is not None:
                    return self._existing(channel_order, existing)
            return self._create_new(channel_order)

    # -- new orders ----------------------------------------------------------------------

    def _create_new(self, channel_order: ChannelOrder) -> OrderDone:
        number = channel_order.number
        lookups = self.lookups
        # Mapping problems first: a bad order costs no customer or address.
        cargo_code = channel_order.cargo_company
        if not cargo_code:
            raise OrderRejected(
                f"order {number}: no cargo company given", cause=Cause.UNKNOWN_CARGO
            )
        cargo = lookups.cargo_company(cargo_code)
        if cargo is None:
            raise OrderRejected(
                f"order {number}: cargo company {cargo_code!r} not found",
                cause=Cause.UNKNOWN_CARGO,
                value=cargo_code,
            )
        products = lookups.product_ids(line.product for line in channel_order.lines)
        unmapped = [sku for sku, pk in products.items() if pk is None]
        if unmapped:
            listed = ", ".join(repr(sku) for sku in unmapped)
            # One problem per SKU: the first one; once it is mapped, a retry names the next.
            raise OrderRejected(
                f"order {number}: product not found for SKU {listed}",
                cause=Cause.UNMAPPED_SKU,
                value=unmapped[0],
            )
        catalog = lookups.catalog()

        _, identifier = self.customers.identifier(channel_order.customer)
        with self._customers.hold(identifier):
            customer = self.customers.get_or_create(number, channel_order.customer)
            shipping = self.addresses.get_or_create(
                number, "shipping", channel_order.shipping_address, customer
            )
            billing = self.addresses.get_or_create(
                number, "billing", channel_order.billing_address, customer
            )
        body = build_order_create(
            channel_order,
            channel_id=lookups.channel_id,
            customer=customer.pk,
            shipping_address=shipping,
            billing_address=billing,
            cargo_company=cargo.pk,
            products={sku: pk for sku, pk in products.items() if pk is not None},
            catalog=catalog,
        )
        try:
            order = self._omnitron.create_order(body)
        except (OmnitronBadRequest, OmnitronNotFound) as exc:
            # The number may be taken: by this very order (created, never committed)
            # or by another channel order. Only a refusal costs this lookup.
            existing = self._find(number)
            if existing is not None:
                return self._existing(channel_order, existing)
            raise OrderRejected(
                f"order {number}: Omnitron refused the order: {exc}",
                cause=Cause.OMNITRON_REFUSED,
                raw=exc.exchange,
            ) from None
        self._run.ctx.event(
            "order.created", number, f"Created order {number} in Omnitron (pk {order.pk})."
        )
        return OrderDone(Outcome.CREATED, self._objects(order, channel_order.remote_id))

    # -- orders that exist already ---------------------------------------------------------

    def _find(self, number: str) -> Order | None:
        try:
            return self._omnitron.find_order_by_number(number)
        except OmnitronMultipleFound as exc:
            raise OrderRejected(
                f"order {number}: Omnitron holds several orders with this number",
                cause=Cause.DUPLICATE_NUMBER,
                value=number,
                raw=exc.exchange,
            ) from None

    def _existing(self, channel_order: ChannelOrder, existing: Order) -> OrderDone:
        number, remote_id = channel_order.number, channel_order.remote_id
        actions = list(self._omnitron.find_integration_actions("order", object_id=existing.pk))
        linked_to = existing.remote_id or next((a.remote_id for a in actions if a.remote_id), None)
        if linked_to is not None and linked_to != remote_id:
            raise OrderRejected(
                f"order {number}: the number is already used by Omnitron order {existing.pk} "
                f"(channel order {linked_to}), not channel order {remote_id}",
                cause=Cause.DUPLICATE_NUMBER,
                value=number,
            )
        if any(a.remote_id == remote_id and a.status == IntegrationStatus.SUCCESS for a in actions):
            self._run.ctx.event(
                "order.skipped", number, f"Order {number} is in Omnitron already (linked)."
            )
            return OrderDone(Outcome.SKIPPED)
        # Created by an interrupted run but never committed: link it now (§6.5).
        self._run.ctx.event(
            "order.linked",
            number,
            f"Order {number} existed in Omnitron without its integration actions: linking.",
        )
        return OrderDone(Outcome.LINKED, self._objects(existing, remote_id))

    def _objects(self, order: Order, remote_id: str) -> tuple[BatchObject, ...]:
        """The order and its items, read back for their pks and versions, to commit."""
        items = self._omnitron.list_order_items(order.pk)
        return tuple(batch_objects(order, items, remote_id))
