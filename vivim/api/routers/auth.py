"""Challenge-response sign-in, token refresh and logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response

from vivim.api.deps import ClientIp, ConfigDep, CurrentPrincipal, LimiterDep, Origin, VivimDep
from vivim.api.errors import error_responses
from vivim.api.schemas.auth import (
    ChallengeRequest,
    ChallengeResponse,
    RefreshRequest,
    TokenRequest,
    TokenResponse,
)
from vivim.identity import auth
from vivim.identity.devices import decode_public_key, decode_signature

router = APIRouter(prefix="/auth", tags=["auth"])
UserAgent = Annotated[str | None, Header(include_in_schema=False)]


@router.post(
    "/challenge",
    response_model=ChallengeResponse,
    responses=error_responses(400, 401, 403, 422, 429, 503),
    summary="Ask for a nonce to sign",
)
def challenge(
    body: ChallengeRequest, v: VivimDep, config: ConfigDep, limiter: LimiterDep, ip: ClientIp, origin: Origin
) -> ChallengeResponse:
    limiter.hit(config.rate_limits.login_per_ip, ip)
    with v.master.connect() as c:
        try:
            user = auth.resolve_user(c, did=body.did, handle=body.handle)
        except auth.InvalidCredentials:
            # Unknown names are limited too, so probing for users costs the same as guessing.
            limiter.hit(config.rate_limits.login_per_user, f"name:{body.did or body.handle}")
            raise
        limiter.hit(config.rate_limits.login_per_user, user.id)
        ch = auth.create_challenge(
            c, user=user, device_id=body.device_id, origin=origin, ip_address=ip, settings=config.auth
        )
    return ChallengeResponse(
        challenge_id=ch.id, nonce=ch.nonce, message=ch.message, signer=ch.signer,  # type: ignore[arg-type]
        did=ch.did, device_id=ch.device_id, origin=ch.origin, expires_at=ch.expires_at,
    )


@router.post(
    "/token",
    response_model=TokenResponse,
    responses=error_responses(400, 401, 403, 409, 422, 429, 503),
    summary="Exchange a signed challenge for an access and a refresh token",
)
def token(
    body: TokenRequest,
    v: VivimDep,
    config: ConfigDep,
    limiter: LimiterDep,
    ip: ClientIp,
    user_agent: UserAgent = None,
) -> TokenResponse:
    limiter.hit(config.rate_limits.login_per_ip, ip)
    with v.master.connect() as c:
        owner = auth.challenge_user_id(c, body.challenge_id)
    if owner is not None:
        limiter.hit(config.rate_limits.login_per_user, owner)
    enrollment = None
    if body.device is not None:
        enrollment = auth.Enrollment(
            public_key=decode_public_key(body.device.public_key),
            signature=decode_signature(body.device.signature),
            name=body.device.name,
            device_type=body.device.type,
            platform=body.device.platform,
        )
    issued = auth.exchange_challenge(
        v.master,
        challenge_id=body.challenge_id,
        signature=decode_signature(body.signature),
        enrollment=enrollment,
        ip_address=ip,
        user_agent=user_agent,
        settings=config.auth,
    )
    return TokenResponse(**issued.to_json())


@router.post(
    "/refresh",
    response_model=TokenResponse,
    responses=error_responses(400, 401, 403, 422, 429, 503),
    summary="Rotate a refresh token: new access and refresh tokens, the old ones stop working",
)
def refresh(body: RefreshRequest, v: VivimDep, config: ConfigDep, limiter: LimiterDep, ip: ClientIp) -> TokenResponse:
    limiter.hit(config.rate_limits.login_per_ip, ip)
    issued = auth.refresh(v.master, body.refresh_token, settings=config.auth)
    return TokenResponse(**issued.to_json())


@router.post(
    "/logout",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 503),
    summary="End the credential this request is made with (session or API token)",
)
def logout(principal: CurrentPrincipal, v: VivimDep) -> Response:
    auth.logout(v.master, principal)
    return Response(status_code=204)
