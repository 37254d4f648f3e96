"""Pydantic models of what Omnitron answers and of the bodies we send it.

Answers ignore unknown fields; amounts are ``Decimal`` and serialise as strings;
dates Omnitron sends are kept verbatim (they are echoed back as ``version_date``).
"""

from service.omnitron.models.base import OmnitronBody, OmnitronModel
from service.omnitron.models.batch import (
    BatchObject,
    BatchRequest,
    BatchStatus,
    FailedReasonType,
    IntegrationAction,
    IntegrationContentType,
    IntegrationStatus,
)
from service.omnitron.models.cancellation import (
    CancellationReason,
    CancellationRequest,
    CancellationRequestCreate,
    CancellationRequestUpdate,
    CancellationType,
)
from service.omnitron.models.catalog import CargoCompany, Product
from service.omnitron.models.channel import Catalog, Channel, ChannelConf, ContentType
from service.omnitron.models.customer import Address, AddressCreate, Customer, CustomerCreate
from service.omnitron.models.error_report import (
    INTEGRATION_TYPE,
    ErrorReport,
    ErrorReportCreate,
    LocationErrorReportCreate,
)
from service.omnitron.models.location import (
    City,
    Country,
    District,
    LocationKind,
    RetailStore,
    Township,
)
from service.omnitron.models.order import (
    STATUS_APPROVED,
    CancelOrderRequest,
    Order,
    OrderCreate,
    OrderCreateOrder,
    OrderItem,
    OrderItemCreate,
    OrderItemUpdate,
)

__all__ = [
    "INTEGRATION_TYPE",
    "STATUS_APPROVED",
    "Address",
    "AddressCreate",
    "BatchObject",
    "BatchRequest",
    "BatchStatus",
    "CancelOrderRequest",
    "CancellationReason",
    "CancellationRequest",
    "CancellationRequestCreate",
    "CancellationRequestUpdate",
    "CancellationType",
    "CargoCompany",
    "Catalog",
    "Channel",
    "ChannelConf",
    "City",
    "ContentType",
    "Country",
    "Customer",
    "CustomerCreate",
    "District",
    "ErrorReport",
    "ErrorReportCreate",
    "FailedReasonType",
    "IntegrationAction",
    "IntegrationContentType",
    "IntegrationStatus",
    "LocationErrorReportCreate",
    "LocationKind",
    "OmnitronBody",
    "OmnitronModel",
    "Order",
    "OrderCreate",
    "OrderCreateOrder",
    "OrderItem",
    "OrderItemCreate",
    "OrderItemUpdate",
    "Product",
    "RetailStore",
    "Township",
]
