"""Request dependencies: the vivim instance, the authenticated principal, the user's store.

Dependencies that do no I/O are ``async`` so that FastAPI calls them on the event loop
instead of sending each to the thread pool; the ones that touch a database stay plain
functions (run in the thread pool, never blocking the loop).

Authentication is a dependency, never an ``if`` in a handler: a route that declares
``CurrentUser`` or ``Store`` cannot run without a valid credential, and ``Store`` opens only
the authenticated user's own database file.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from vivim.api.config import ApiConfig
from vivim.api.errors import ApiError
from vivim.app import UserRecord, Vivim
from vivim.identity import auth, service
from vivim.identity.ratelimit import RateLimiter
from vivim.store.user.db import UserStore

_bearer = HTTPBearer(
    auto_error=False,
    description="`Authorization: Bearer <token>`: an access token (`vat_...`) from /auth/token "
    "or a personal API token (`vpt_...`).",
)


async def get_vivim(request: Request) -> Vivim:
    return request.app.state.vivim


async def get_config(request: Request) -> ApiConfig:
    return request.app.state.config


async def get_limiter(request: Request) -> RateLimiter:
    return request.app.state.limiter


async def client_ip(request: Request) -> str:
    config: ApiConfig = request.app.state.config
    if config.trust_proxy_headers:
        forwarded = request.headers.get("x-forwarded-for", "")
        first = forwarded.split(",")[0].strip()
        if first:
            return first[:64]
    return (request.client.host if request.client else "unknown")[:64]


async def origin(request: Request) -> str:
    config: ApiConfig = request.app.state.config
    if config.public_url:
        return config.public_url.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}"


VivimDep = Annotated[Vivim, Depends(get_vivim)]
ConfigDep = Annotated[ApiConfig, Depends(get_config)]
LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]
ClientIp = Annotated[str, Depends(client_ip)]
Origin = Annotated[str, Depends(origin)]


def current_principal(
    v: VivimDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> auth.Principal:
    if credentials is None or not credentials.credentials:
        raise ApiError(401, "unauthorized", "authentication required: send Authorization: Bearer <token>")
    return auth.authenticate(v.master, credentials.credentials)


CurrentPrincipal = Annotated[auth.Principal, Depends(current_principal)]


async def current_user(principal: CurrentPrincipal) -> UserRecord:
    return service.user_record(principal)


async def session_principal(principal: CurrentPrincipal) -> auth.Principal:
    """Operations that hand out credentials or the identity key need a device session:
    a script's API token cannot mint more tokens, enrol devices or export the key."""
    if principal.kind != "session":
        raise auth.SessionRequired("this operation needs a device session, not a personal API token")
    return principal


CurrentUser = Annotated[UserRecord, Depends(current_user)]
SessionPrincipal = Annotated[auth.Principal, Depends(session_principal)]


def user_store(v: VivimDep, user: CurrentUser) -> UserStore:
    return v.store(user)


Store = Annotated[UserStore, Depends(user_store)]
