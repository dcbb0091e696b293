"""Circles: create, browse, join, invite, manage members. A private circle you are neither
in nor invited to answers 404, like anything else that is not yours."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, Response

from vivim.api.deps import CurrentUser, VivimDep
from vivim.api.errors import AUTHENTICATED, ApiError, error_responses
from vivim.api.schemas.social import (
    CircleCreate,
    CircleList,
    CircleOut,
    CirclePatch,
    InvitationList,
    InvitationOut,
    InviteIn,
    MemberChanged,
    MemberList,
    MemberPatch,
)
from vivim.social import circles
from vivim.social.common import NotPermitted

F = TypeVar("F", bound=Callable[..., Any])


def permitted(fn: F) -> F:
    """Social operations the requester can see but may not perform answer 403 (not 400)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NotPermitted as exc:
            raise ApiError(403, exc.code, str(exc)) from None

    return wrapper  # type: ignore[return-value]


SOCIAL_ERRORS = {**AUTHENTICATED, **error_responses(403, 404, 409)}
router = APIRouter(prefix="/circles", tags=["circles"], responses=SOCIAL_ERRORS)
CircleId = Annotated[str, Path(max_length=36, description="The circle's id.")]
InvitationId = Annotated[str, Path(max_length=36, description="The invitation's id.")]
Member = Annotated[str, Path(max_length=255, description="The member's handle, id or DID.")]


@router.get("", response_model=CircleList, summary="The circles you belong to")
def list_circles(v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return {"items": circles.list_circles(v, user)}


@router.post("", response_model=CircleOut, status_code=201, summary="Create a circle (you own it)")
def create_circle(body: CircleCreate, v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return circles.create_circle(v, user, body.name, description=body.description, is_public=body.is_public)


@router.get("/discover", response_model=CircleList, summary="Public circles you may join")
def discover(
    v: VivimDep,
    user: CurrentUser,
    q: Annotated[str | None, Query(max_length=255, description="Words in the name.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    return {"items": circles.discover_circles(v, user, query=q, limit=limit)}


@router.get("/invitations", response_model=InvitationList, summary="Invitations waiting for your answer")
def my_invitations(v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return {"items": circles.invitations(v, user)}


@router.post("/invitations/{invitation_id}/accept", response_model=InvitationOut, summary="Accept an invitation")
def accept(invitation_id: InvitationId, v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return circles.respond(v, user, invitation_id, accept=True)


@router.post("/invitations/{invitation_id}/decline", response_model=InvitationOut, summary="Decline an invitation")
def decline(invitation_id: InvitationId, v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return circles.respond(v, user, invitation_id, accept=False)


@router.get("/{circle_id}", response_model=CircleOut, summary="One circle")
def get_circle(circle_id: CircleId, v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return circles.get_circle(v, user, circle_id)


@router.patch("/{circle_id}", response_model=CircleOut, summary="Rename, describe, make public or private")
@permitted
def patch_circle(circle_id: CircleId, body: CirclePatch, v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return circles.update_circle(
        v, user, circle_id, name=body.name, description=body.description, is_public=body.is_public
    )


@router.delete("/{circle_id}", status_code=204, summary="Delete a circle (owner only)")
@permitted
def delete_circle(circle_id: CircleId, v: VivimDep, user: CurrentUser) -> Response:
    circles.delete_circle(v, user, circle_id)
    return Response(status_code=204)


@router.post("/{circle_id}/join", response_model=CircleOut, summary="Join a public circle, or accept your invitation")
def join(circle_id: CircleId, v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return circles.join_circle(v, user, circle_id)


@router.post("/{circle_id}/leave", status_code=204, summary="Leave a circle")
def leave(circle_id: CircleId, v: VivimDep, user: CurrentUser) -> Response:
    circles.leave_circle(v, user, circle_id)
    return Response(status_code=204)


@router.get("/{circle_id}/members", response_model=MemberList, summary="Members, roles and rights (members only)")
@permitted
def members(circle_id: CircleId, v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return {"items": circles.members(v, user, circle_id)}


@router.post("/{circle_id}/invitations", response_model=InvitationOut, status_code=201, summary="Invite someone")
@permitted
def invite(circle_id: CircleId, body: InviteIn, v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return circles.invite(
        v, user, circle_id, body.user, role=body.role, can_invite=body.can_invite, can_share=body.can_share
    )


@router.patch("/{circle_id}/members/{member}", response_model=MemberChanged, summary="Change a member's role or rights")
@permitted
def patch_member(circle_id: CircleId, member: Member, body: MemberPatch, v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return circles.set_member(
        v, user, circle_id, member, role=body.role, can_invite=body.can_invite, can_share=body.can_share
    )


@router.delete("/{circle_id}/members/{member}", status_code=204, summary="Remove a member; their access ends at once")
@permitted
def remove_member(circle_id: CircleId, member: Member, v: VivimDep, user: CurrentUser) -> Response:
    circles.remove_member(v, user, circle_id, member)
    return Response(status_code=204)
