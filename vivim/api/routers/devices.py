"""The user's devices: list, register (with proof of key possession), rename, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from vivim.api.deps import CurrentPrincipal, CurrentUser, SessionPrincipal, VivimDep
from vivim.api.errors import AUTHENTICATED, error_responses
from vivim.api.pagination import CursorParam, Limit, decode_cursor, encode_cursor, time_key
from vivim.api.schemas.devices import DeviceCreate, DeviceList, DeviceOut, DevicePatch
from vivim.domain.errors import InvalidIdentifier
from vivim.identity import devices, service
from vivim.identity.keys import verify

router = APIRouter(prefix="/devices", tags=["devices"], responses={**AUTHENTICATED, **error_responses(404)})
DeviceId = Annotated[str, Path(max_length=64, description="The device id (from its key's fingerprint).")]


def _out(device: devices.DeviceRecord, current: str | None) -> DeviceOut:
    return DeviceOut(**device.to_json(), current=device.device_id == current)


@router.get("", response_model=DeviceList, summary="Your devices, oldest first")
def list_devices(
    principal: CurrentPrincipal,
    user: CurrentUser,
    v: VivimDep,
    limit: Limit = 50,
    cursor: CursorParam = None,
    include_revoked: Annotated[bool, Query(description="Include revoked devices.")] = True,
) -> DeviceList:
    after = time_key(decode_cursor(cursor, "devices", 2))
    rows = service.list_devices(v, user, include_revoked=include_revoked, limit=limit + 1, after=after)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor("devices", [last.created_at.isoformat(), last.device_id])
    return DeviceList(items=[_out(d, principal.device_id) for d in rows], next_cursor=next_cursor)


@router.post(
    "",
    response_model=DeviceOut,
    status_code=201,
    responses=error_responses(409),
    summary="Register a device key (needs a device session)",
)
def register(body: DeviceCreate, principal: SessionPrincipal, v: VivimDep) -> DeviceOut:
    public_key = devices.decode_public_key(body.public_key)
    signature = devices.decode_signature(body.signature)
    if not verify(public_key, signature, devices.registration_message(principal.did, public_key)):
        raise InvalidIdentifier("the signature does not prove possession of this device key")
    device = service.register_device(
        v, service.user_record(principal), public_key=public_key, name=body.name,
        device_type=body.type, platform=body.platform,
    )
    return _out(device, principal.device_id)


@router.get("/{device_id}", response_model=DeviceOut, summary="One device")
def get_device(device_id: DeviceId, principal: CurrentPrincipal, user: CurrentUser, v: VivimDep) -> DeviceOut:
    return _out(service.get_device(v, user, device_id), principal.device_id)


@router.patch("/{device_id}", response_model=DeviceOut, summary="Rename a device or mark it trusted")
def update_device(
    device_id: DeviceId, body: DevicePatch, principal: CurrentPrincipal, user: CurrentUser, v: VivimDep
) -> DeviceOut:
    device = service.rename_device(v, user, device_id, name=body.name, trusted=body.is_trusted)
    return _out(device, principal.device_id)


@router.delete(
    "/{device_id}",
    response_model=DeviceOut,
    summary="Revoke a device: its tokens stop working at once; the key cannot be registered again",
)
def revoke(device_id: DeviceId, principal: CurrentPrincipal, user: CurrentUser, v: VivimDep) -> DeviceOut:
    return _out(service.revoke_device(v, user, device_id), principal.device_id)
