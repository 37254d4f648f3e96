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
    def commits(self) -> bool:
        """Whether the flow declares objects (``commit``) on its batch.

        Omnitron lets one batch per content type be in ``commit`` at a time, so two
        committing flows of one content type cannot run together. check-batches only
        finishes batches that others committed.
        """
        return self is not Flow.CHECK_BATCHES
