"""The marketplace simulator: orders, cancellations, line updates, status updates.

The API is described in ``docs/marketplace-api.md``; the control routes under
``/_sandbox/`` in ``docs/sandbox-control.md``.
"""

from service.sandbox.marketplace.config import MarketplaceSimConfig
from service.sandbox.marketplace.simulator import MarketplaceSimulator

__all__ = ["MarketplaceSimConfig", "MarketplaceSimulator"]
