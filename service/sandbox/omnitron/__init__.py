"""Omnitron simulator: the order-flow subset of Akinon Omnitron's REST API (FastAPI).

See ``docs/omnitron-api.md`` for the behaviour it reproduces and ``docs/sandbox-control.md``
for its ``/_sandbox/`` control routes.
"""

from service.sandbox.omnitron.app import OmnitronSimulator
from service.sandbox.omnitron.config import OmnitronSimConfig

__all__ = ["OmnitronSimConfig", "OmnitronSimulator"]
