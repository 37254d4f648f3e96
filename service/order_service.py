"""The OrderService: one public method per order flow.

Each method runs one flow to its end and returns a :class:`FlowResult`. Everything is
injected (the Omnitron client, the channel adapter, the store); nothing is read from
the environment. Methods are synchronous: the GUI calls them from a worker thread and
passes a :class:`RunContext` for progress and cancellation.
"""

from __future__ import annotations

from collections.abc import Sequence

from service.channel.adapter import ChannelAdapter
from service.flows.context import RunContext
from service.flows.lease import LeaseBook
from service.flows.names import Flow
from service.flows.registry import spec
from service.flows.result import FlowResult
from service.flows.retry import retry_body, select_reports
from service.flows.run import FlowBody, FlowOptions, execute
from service.omnitron.client import OmnitronClient
from service.store import Store


class OrderService:
    """Runs the order flows between one channel and Omnitron, recording them in a store."""

    def __init__(
        self,
        omnitron: OmnitronClient,
        channel: ChannelAdapter,
        store: Store,
        *,
        profile: str = "",
        workers: int = 12,
        leases: LeaseBook | None = None,
    ) -> None:
        """``leases``: where the runs' leases are kept (default: ``store``'s own rows)."""
        self.omnitron = omnitron
        self.channel = channel
        self.store = store
        self.profile = profile
        self.workers = workers
        self.leases = leases

    def run(
        self, flow: Flow, options: FlowOptions | None = None, ctx: RunContext | None = None
    ) -> FlowResult:
        """Run ``flow`` with ``options`` (defaults: the reference's, this service's workers)."""
        return self._execute(flow, spec(flow).body, ctx, options)

    def retry(
        self,
        *,
        report_ids: Sequence[int] = (),
        cause: str | None = None,
        cause_value: str | None = None,
        ctx: RunContext | None = None,
        options: FlowOptions | None = None,
    ) -> FlowResult:
        """Retry the failed items of these reports (or of one problem) as a run of their flow.

        The items go through the flow's per-item path on their own batch request; those
        that go through resolve their reports. Raises :class:`ValueError` for reports of
        several flows and :class:`~service.flows.retry.NothingToRetry` when no open
        failure matches.
        """
        reports = select_reports(
            self.store, report_ids=report_ids, cause=cause, cause_value=cause_value
        )
        flow, body = retry_body(self.store, reports)
        return self._execute(flow, body, ctx, options)

    def _execute(
        self,
        flow: Flow,
        body: FlowBody,
        ctx: RunContext | None,
        options: FlowOptions | None,
    ) -> FlowResult:
        return execute(
            flow,
            body,
            omnitron=self.omnitron,
            channel=self.channel,
            store=self.store,
            ctx=ctx or RunContext(),
            options=options or FlowOptions(workers=self.workers),
            profile=self.profile,
            leases=self.leases,
        )

    def fetch_and_create_order(
        self, *, is_success_log: bool = True, ctx: RunContext | None = None
    ) -> FlowResult:
        """Bring new channel orders into Omnitron (customer, addresses, cargo, order)."""
        return self.run(Flow.FETCH_ORDERS, self._options(is_success_log=is_success_log), ctx)

    def update_orders(
        self,
        *,
        is_sync: bool = True,
        is_success_log: bool = True,
        add_order_items: bool = False,
        ctx: RunContext | None = None,
    ) -> FlowResult:
        """Send Omnitron's updated orders to the channel, synchronously or as a batch."""
        options = self._options(
            is_sync=is_sync, is_success_log=is_success_log, add_order_items=add_order_items
        )
        return self.run(Flow.UPDATE_ORDERS, options, ctx)

    def get_order_batch_requests(
        self, *, is_success_log: bool = False, ctx: RunContext | None = None
    ) -> FlowResult:
        """Finish the async order batches the channel has answered."""
        return self.run(Flow.CHECK_BATCHES, self._options(is_success_log=is_success_log), ctx)

    def fetch_and_create_cancel(
        self, *, is_success_log: bool = True, ctx: RunContext | None = None
    ) -> FlowResult:
        """Cancel in Omnitron what the channel cancelled."""
        return self.run(Flow.FETCH_CANCELS, self._options(is_success_log=is_success_log), ctx)

    def fetch_and_update_order_items(
        self, *, is_success_log: bool = True, ctx: RunContext | None = None
    ) -> FlowResult:
        """Patch Omnitron's order items with the channel's line changes."""
        options = self._options(is_success_log=is_success_log)
        return self.run(Flow.FETCH_ITEM_UPDATES, options, ctx)

    def fetch_and_create_cancellation_requests(
        self, *, is_success_log: bool = True, ctx: RunContext | None = None
    ) -> FlowResult:
        """Bring customers' cancellation requests from the channel into Omnitron."""
        options = self._options(is_success_log=is_success_log)
        return self.run(Flow.FETCH_CANCELLATION_REQUESTS, options, ctx)

    def update_cancellation_requests(
        self, *, is_success_log: bool = True, ctx: RunContext | None = None
    ) -> FlowResult:
        """Send Omnitron's decisions on cancellation requests to the channel."""
        options = self._options(is_success_log=is_success_log)
        return self.run(Flow.UPDATE_CANCELLATION_REQUESTS, options, ctx)

    def _options(self, **fields: bool) -> FlowOptions:
        return FlowOptions(workers=self.workers, **fields)
