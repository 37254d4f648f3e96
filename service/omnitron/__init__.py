"""Client for Akinon Omnitron's REST API, as the order flows use it.

Entry point: :class:`OmnitronClient` built from :class:`OmnitronSettings`.
"""

from service.omnitron.client import OmnitronClient
from service.omnitron.errors import (
    AddressDuplicate,
    BatchTransitionRefused,
    OmnitronAuthError,
    OmnitronBadRequest,
    OmnitronConflict,
    OmnitronError,
    OmnitronMultipleFound,
    OmnitronNotFound,
    OmnitronOutage,
    OmnitronPagingError,
    OmnitronResponseInvalid,
    OmnitronUnavailable,
)
from service.omnitron.settings import OmnitronSettings

__all__ = [
    "AddressDuplicate",
    "BatchTransitionRefused",
    "OmnitronAuthError",
    "OmnitronBadRequest",
    "OmnitronClient",
    "OmnitronConflict",
    "OmnitronError",
    "OmnitronMultipleFound",
    "OmnitronNotFound",
    "OmnitronOutage",
    "OmnitronPagingError",
    "OmnitronResponseInvalid",
    "OmnitronSettings",
    "OmnitronUnavailable",
]
