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
