"""The marketplace simulator: engine, store, clock and fault knobs in one FastAPI app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from service.sandbox.clock import SimClock
from service.sandbox.faults import FaultInjector
from service.sandbox.marketplace.api import build_api_router
from service.sandbox.marketplace.config import MarketplaceSimConfig
from service.sandbox.marketplace.control import build_control_router
from service.sandbox.marketplace.engine import Marketplace, MarketplaceError
from service.sandbox.marketplace.ratelimit import TokenBucket
from service.sandbox.marketplace.store import MarketplaceStore
from service.sandbox.seed import load_seed

_HTTP_CODES = MappingProxyType({404: "not_found", 405: "method_not_allowed", 401: "unauthorized"})


class MarketplaceSimulator:
    """A believable marketplace order API for demos and tests (see docs/marketplace-api.md)."""

    def __init__(self, config: MarketplaceSimConfig) -> None:
        self.config = config
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self._store = MarketplaceStore(config.data_dir)
        self.clock = SimClock(self._restored_offset())
        self.market = Marketplace(config, load_seed(), self._store, self.clock)
        self._app = self.faults.middleware(self._build())

    def _restored_offset(self) -> timedelta:
        """After a restart, never let simulated time run backwards past what was seen."""
        last_seen = self._store.meta("last_seen")
        if last_seen is None:
            return timedelta(0)
        return max(timedelta(0), datetime.fromisoformat(last_seen) - datetime.now(UTC))

    @property
    def app(self) -> ASGIApp:
        """The ASGI app, wrapped by the fault injector."""
        return self._app

    def close(self) -> None:
        """Release the database."""
        self._store.close()

    def _build(self) -> FastAPI:
        app = FastAPI(
            title="Marketplace simulator",
            version="1.0",
            description="A marketplace order API for ChannelDesk demos and tests. "
            "Authenticate with the X-Api-Key header. See docs/marketplace-api.md.",
        )
        bucket = TokenBucket(self.config.rate_limit_per_second)
        app.include_router(build_api_router(self.market, self.config.api_key, bucket))
        app.include_router(self.faults.control_router())
        app.include_router(self.clock.control_router())
        app.include_router(build_control_router(self.market))

        @app.exception_handler(MarketplaceError)
        async def marketplace_error(request: Request, exc: MarketplaceError) -> JSONResponse:
            return JSONResponse(
                {"code": exc.code, "detail": exc.detail},
                status_code=exc.status_code,
                headers=exc.headers,
            )

        @app.exception_handler(StarletteHTTPException)
        async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
            code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
            return JSONResponse(
                {"code": code, "detail": str(exc.detail)},
                status_code=exc.status_code,
                headers=getattr(exc, "headers", None),
            )

        @app.exception_handler(RequestValidationError)
        async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
            return JSONResponse(
                {
                    "code": "invalid_request",
                    "detail": "The request is not valid; see errors.",
                    "errors": jsonable_encoder(exc.errors()),
                },
                status_code=422,
            )

        return app
