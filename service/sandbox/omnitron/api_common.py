"""Helpers shared by the API routers: auth, channel scope, list answers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import Header, Request
from starlette.datastructures import QueryParams

from service.sandbox.omnitron.errors import ApiError, not_found
from service.sandbox.omnitron.query import Fields, paginate, select
from service.sandbox.omnitron.state import SimState
from service.sandbox.omnitron.store import Row, Table, public

Serializer = Callable[[Row], dict[str, Any]]


def auth_dependency(state: SimState) -> Callable[..., None]:
    """A FastAPI dependency: 401 with a JSON body unless ``Authorization: Token <key>``."""

    def require_token(authorization: str | None = Header(None, include_in_schema=False)) -> None:
        challenge = {"WWW-Authenticate": "Token"}
        if not authorization:
            raise ApiError(
                401, {"detail": "Authentication credentials were not provided."}, challenge
            )
        scheme, _, key = authorization.strip().partition(" ")
        with state.lock:
            valid = scheme.lower() == "token" and key.strip() in state.tokens
        if not valid:
            raise ApiError(401, {"detail": "Invalid token."}, challenge)

    return require_token


def check_channel(state: SimState, channel_id: int) -> None:
    """Channel-scoped routes exist only for the simulated channel."""
    if channel_id != state.config.channel_id:
        raise not_found()


def list_answer(
    request: Request,
    table: Table,
    fields: Fields,
    serialize: Serializer = public,
    *,
    where: Callable[[Row], bool] | None = None,
    candidates: Iterable[int] | None = None,
    params: QueryParams | None = None,
) -> dict[str, Any]:
    """Filter, order and paginate a table as a DRF list view would.

    ``params`` replaces the request's query (a route that renames a filter).
    """
    query = request.query_params if params is None else params
    rows = select(table, fields, query, where=where, candidates=candidates)
    return paginate(rows, request.url, serialize)


def get_or_404(table: Table, pk: int) -> Row:
    """The row or DRF's 404."""
    row = table.get(pk)
    if row is None:
        raise not_found()
    return row
