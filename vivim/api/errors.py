"""Every error answer is ``{"error": {"code": "...", "message": "..."}}`` with a stable code.

Domain errors (``vivim.domain.errors`` and the identity errors) are mapped here, in one
table, to an HTTP status; handlers just raise them.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from vivim.domain.errors import (
    AlreadyExists,
    CorruptDatabase,
    InvalidIdentifier,
    NotFound,
    ParseError,
    SchemaTooNew,
    Unavailable,
    VivimError,
)
from vivim.identity.auth import AccountNotActive, AuthError, SessionRequired
from vivim.identity.did import InvalidDid
from vivim.identity.keyexport import BadPassphrase, KeyExportError
from vivim.identity.ratelimit import RateLimited

log = logging.getLogger("vivim.api")


class ErrorBody(BaseModel):
    code: str = Field(description="Stable, machine-readable error code (see docs/API.md).")
    message: str = Field(description="What went wrong, for people.")
    details: list[dict[str, Any]] | None = Field(default=None, description="Per-field problems (validation).")


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(Exception):
    """An HTTP error raised by the API layer itself (not a domain error)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


_DESCRIPTIONS = {
    400: "Bad request",
    401: "Not authenticated: missing, unknown, expired or revoked credential",
    403: "Authenticated, but not allowed (account status, or a session is required)",
    404: "Not found (also for objects that belong to someone else)",
    409: "Conflicts with an existing object",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Rate limited; see Retry-After",
    503: "Service unavailable",
    507: "Not enough free disk space for this upload",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries using the shared error schema."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorResponse, "description": _DESCRIPTIONS[status]}
        if status == 429:
            entry["headers"] = {
                "Retry-After": {"description": "Seconds until a request may succeed", "schema": {"type": "integer"}}
            }
        out[status] = entry
    return out


# Every authenticated route may answer these.
AUTHENTICATED = error_responses(400, 401, 403, 422, 503)


def _body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def error_json(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(_body(code, message), status_code=status, headers=headers)


def status_for(exc: VivimError) -> int:
    if isinstance(exc, AccountNotActive):
        return 401 if exc.status == "DELETED" else 403
    if isinstance(exc, SessionRequired):
        return 403
    if isinstance(exc, AuthError):
        return 401
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, AlreadyExists):
        return 409
    if isinstance(exc, (InvalidIdentifier, ParseError, InvalidDid, KeyExportError, BadPassphrase)):
        return 422
    if isinstance(exc, (CorruptDatabase, SchemaTooNew, Unavailable)):
        return 503
    return 400


def _auth_headers(status: int) -> dict[str, str] | None:
    return {"WWW-Authenticate": "Bearer"} if status == 401 else None


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        headers = {**(_auth_headers(exc.status) or {}), **(exc.headers or {})}
        return error_json(exc.status, exc.code, exc.message, headers or None)

    @app.exception_handler(VivimError)
    async def _domain_error(_request: Request, exc: VivimError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500:
            log.error("vivim error: %s", exc)
        return error_json(status, exc.code, str(exc), _auth_headers(status))

    @app.exception_handler(RateLimited)
    async def _rate_limited(_request: Request, exc: RateLimited) -> JSONResponse:
        return error_json(429, "rate_limited", str(exc), {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        first = details[0] if details else {"loc": [], "msg": "invalid input"}
        where = ".".join(first["loc"][1:] if len(first["loc"]) > 1 else first["loc"])
        message = f"{where}: {first['msg']}" if where else str(first["msg"])
        return JSONResponse(_body("validation_error", message, details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {400: "invalid_body", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(exc.status_code, f"http_{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else "error"
        return error_json(exc.status_code, code, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        # Details go to the log, never to the client.
        log.exception("unhandled error", exc_info=exc)
        return error_json(500, "internal_error", "internal server error")
