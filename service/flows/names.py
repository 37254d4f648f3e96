"""The flows by their command-line names."""

from enum import StrEnum


class Flow(StrEnum):
    """Every flow ChannelDesk runs, named as on the command line."""

    FETCH_ORDERS = "fetch-orders"
    UPDATE_ORDERS = "update-orders"
    CHECK_BATCHES = "check-batches"
    FETCH_CANCELS = "fetch-cancels"
    FETCH_ITEM_UPDATES = "fetch-item-updates"
    FETCH_CANCELLATION_REQUESTS = "fetch-cancellation-requests"
    UPDATE_CANCELLATION_REQUESTS = "update-cancellation-requests"

    @property
    def content_type(self) -> str:
        """The content type of the batch requests this flow opens."""
        if self in (Flow.FETCH_CANCELLATION_REQUESTS, Flow.UPDATE_CANCELLATION_REQUESTS):
            return "cancellationrequest"
        return "order"

    @property
    def items(self) -> str:
        """What the flow's progress counts, in the operator's words (plural)."""
        return _ITEMS[self]

    @property
    def commits(self) -> bool:
        """Whether the flow declares objects (``commit``) on its batch.

        Omnitron lets one batch per content type be in ``commit`` at a time, so two
        committing flows of one content type cannot run together. check-batches only
        finishes batches that others committed.
        """
        return self is not Flow.CHECK_BATCHES


_ITEMS: dict[Flow, str] = {
    Flow.FETCH_ORDERS: "orders",
    Flow.UPDATE_ORDERS: "orders",
    Flow.CHECK_BATCHES: "batches",
    Flow.FETCH_CANCELS: "cancellations",
    Flow.FETCH_ITEM_UPDATES: "line updates",
    Flow.FETCH_CANCELLATION_REQUESTS: "cancellation requests",
    Flow.UPDATE_CANCELLATION_REQUESTS: "cancellation requests",
}
