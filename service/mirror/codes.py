"""What an error code says: the command (and so the flow) and the subject.

Codes of Akinon's channel app are ``{local_batch_id}-Channel-GetOrders_{number}`` (the
"Log Id" of Omnitron's Marketplace Logs page); ChannelDesk's add a unique suffix,
``{prefix}-Channel-{Command}_{subject}-{8 hex}`` or ``{prefix}-{Command}_{subject}-…``
(service/flows/reporting.py). Batch ids are lower-case hex, so the command is the
first part that starts with a capital letter.
"""

from __future__ import annotations

import re

from service.flows.names import Flow

# The commands flows write in their codes, ChannelDesk's and the reference's alike.
COMMAND_FLOWS: dict[str, Flow] = {
    "GetOrders": Flow.FETCH_ORDERS,
    "CreateOrder": Flow.FETCH_ORDERS,
    "SendUpdatedOrders": Flow.UPDATE_ORDERS,
    "CheckOrderBatch": Flow.CHECK_BATCHES,
    "CreateOrderCancel": Flow.FETCH_CANCELS,
    "UpdateOrderItems": Flow.FETCH_ITEM_UPDATES,
    "CreateCancellationRequest": Flow.FETCH_CANCELLATION_REQUESTS,
    "UpdateCancellationRequest": Flow.UPDATE_CANCELLATION_REQUESTS,
}
_CODE = re.compile(r"(?:^|-)(?:Channel-)?(?P<command>[A-Z][A-Za-z]*)(?:_(?P<subject>.*))?$")
# ChannelDesk's unique suffix: 8 hex digits, at least one a letter (an order number
# ending in 8 digits keeps them).
_SUFFIX = re.compile(r"-(?=[0-9]*[a-f])[0-9a-f]{8}$")


def command_of(code: str) -> str:
    """The command an error code names (``GetOrders``), or ``''``."""
    match = _CODE.search(_SUFFIX.sub("", code))
    return match.group("command") if match else ""


def flow_of(code: str) -> str:
    """The flow whose command the code names (``fetch-orders``), or ``''`` when unknown."""
    flow = COMMAND_FLOWS.get(command_of(code))
    return flow.value if flow is not None else ""


def subject_of(code: str) -> str:
    """The subject an error code names after its command (an order number), or ``''``."""
    match = _CODE.search(_SUFFIX.sub("", code))
    return (match.group("subject") or "") if match else ""
