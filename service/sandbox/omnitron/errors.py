"""DRF-shaped errors: every error the simulator answers has a JSON body."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

ILLEGAL_TRANSITION = "batch_request_status_100_1"
COMMIT_LOCKED = "batch_request_status_100_2"


class ApiError(Exception):
    """An error answer: HTTP status plus the JSON body DRF would send."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers


def not_found() -> ApiError:
    """DRF's 404 for an unknown object."""
    return ApiError(404, {"detail": "Not found."})


def field_error(field: str, message: str) -> ApiError:
    """A 400 validation error on one field, ``{"field": ["message"]}``."""
    return ApiError(400, {field: [message]})


def invalid_pk(field: str, value: Any) -> ApiError:
    """DRF's message for a foreign key that points nowhere."""
    return field_error(field, f'Invalid pk "{value}" - object does not exist.')


def _validation_body(exc: RequestValidationError) -> dict[str, Any]:
    """Turn pydantic's error list into DRF's ``{"field": ["msg", ...]}``."""
    body: dict[str, list[str]] = {}
    for error in exc.errors():
        if error.get("loc", ("",))[0] == "path":
            return {"detail": "Not found."}
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query")]
        kind = error.get("type", "")
        if kind == "json_invalid":
            return {"detail": "JSON parse error - " + str(error.get("msg", "invalid JSON"))}
        if not loc:
            if kind == "missing":
                return {"detail": "A request body is required."}
            body.setdefault("non_field_errors", []).append(str(error.get("msg")))
            continue
        message = "This field is required." if kind == "missing" else str(error.get("msg"))
        body.setdefault(".".join(loc), []).append(message)
    return body


def install_handlers(app: FastAPI) -> None:
    """Replace FastAPI's 422/404/405/500 answers with DRF-like JSON ones."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        body = _validation_body(exc)
        # A malformed id in the URL is an unknown object to DRF, not a validation error.
        status = 404 if body == {"detail": "Not found."} else 400
        return JSONResponse(body, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            detail: Any = "Not found."
        elif exc.status_code == 405:
            detail = f'Method "{request.method}" not allowed.'
        else:
            detail = exc.detail
        return JSONResponse(
            {"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": "A server error occurred."}, status_code=500)
