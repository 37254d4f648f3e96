"""The simulator object: builds the FastAPI app around the shared state."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from starlette.types import ASGIApp

from service.sandbox.clock import SimClock
from service.sandbox.faults import FaultInjector
from service.sandbox.omnitron.api_batches import build_batch_router
from service.sandbox.omnitron.api_common import auth_dependency
from service.sandbox.omnitron.api_orders import build_order_router
from service.sandbox.omnitron.api_parties import build_party_router
from service.sandbox.omnitron.api_reference import build_login_router, build_reference_router
from service.sandbox.omnitron.api_reports import build_report_router
from service.sandbox.omnitron.config import OmnitronSimConfig
from service.sandbox.omnitron.control import build_control_router
from service.sandbox.omnitron.errors import install_handlers
from service.sandbox.omnitron.state import SimState

API_PREFIX = "/api/v1"


class OmnitronSimulator:
    """A fake Omnitron: the order-flow subset of its REST API, over real HTTP.

    State lives in memory, or in ``omnitron.sqlite3`` under ``config.data_dir`` so a
    restart keeps customers, orders and batches (tokens do not survive).
    """

    def __init__(self, config: OmnitronSimConfig) -> None:
        self.config = config
        self.clock = SimClock()
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self.state = SimState(config, self.clock)
        self._app = self.faults.middleware(self._build())

    @property
    def app(self) -> ASGIApp:
        """The FastAPI app wrapped by the fault middleware."""
        return self._app

    def _build(self) -> FastAPI:
        api = FastAPI(
            title="Omnitron simulator",
            description="The subset of Omnitron's REST API that ChannelDesk's order flows use.",
            docs_url="/docs",
        )
        install_handlers(api)
        state = self.state
        api.include_router(build_login_router(state), prefix=API_PREFIX)
        secured = [Depends(auth_dependency(state))]
        for router in (
            build_reference_router(state),
            build_batch_router(state),
            build_order_router(state),
            build_party_router(state),
            build_report_router(state),
        ):
            api.include_router(router, prefix=API_PREFIX, dependencies=secured)
        api.include_router(self.faults.control_router())
        api.include_router(self.clock.control_router())
        api.include_router(build_control_router(state))
        return api

    def close(self) -> None:
        """Flush and close the SQLite connection."""
        self.state.close()
