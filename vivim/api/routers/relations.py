"""Friends, follows, blocks and peer connections."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from vivim.api.deps import CurrentUser, VivimDep
from vivim.api.routers.circles import SOCIAL_ERRORS
from vivim.api.schemas.social import (
    BlockList,
    BlockOut,
    FollowOut,
    FollowsOut,
    FriendList,
    FriendOut,
    PeerIn,
    PeerList,
    PeerOut,
    UserRef,
)
from vivim.social import relations

router = APIRouter(tags=["relations"], responses=SOCIAL_ERRORS)
Other = Annotated[str, Path(max_length=255, description="Handle, id or DID of the other person.")]


@router.get("/friends", response_model=FriendList, summary="Friends and friend requests")
def list_friends(
    v: VivimDep,
    user: CurrentUser,
    status: Annotated[str | None, Query(pattern="^(pending|accepted|rejected|blocked)$")] = None,
) -> dict[str, Any]:
    return {"items": relations.list_friends(v, user, status=status)}


@router.post("/friends", response_model=FriendOut, status_code=201, summary="Send a friend request (or accept theirs)")
def request_friend(body: UserRef, v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return relations.request_friend(v, user, body.user)


@router.post("/friends/{other}/accept", response_model=FriendOut, summary="Accept a friend request")
def accept_friend(other: Other, v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return relations.respond_friend(v, user, other, accept=True)


@router.post("/friends/{other}/reject", response_model=FriendOut, summary="Reject a friend request")
def reject_friend(other: Other, v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return relations.respond_friend(v, user, other, accept=False)


@router.delete("/friends/{other}", status_code=204, summary="End a friendship or withdraw a request")
def unfriend(other: Other, v: VivimDep, user: CurrentUser) -> Response:
    relations.unfriend(v, user, other)
    return Response(status_code=204)


@router.get("/follows", response_model=FollowsOut, summary="Who you follow and who follows you")
def follows(v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return relations.follows(v, user)


@router.post("/follows", response_model=FollowOut, status_code=201, summary="Follow someone")
def follow(body: UserRef, v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return relations.follow(v, user, body.user)


@router.delete("/follows/{other}", status_code=204, summary="Stop following someone")
def unfollow(other: Other, v: VivimDep, user: CurrentUser) -> Response:
    relations.unfollow(v, user, other)
    return Response(status_code=204)


@router.get("/blocks", response_model=BlockList, summary="People you blocked")
def blocks(v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return {"items": relations.blocks(v, user)}


@router.post("/blocks", response_model=BlockOut, status_code=201, summary="Block someone")
def block(body: UserRef, v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    done = relations.block(v, user, body.user)
    return {"user": done["blocked"], "did": done["did"]}


@router.delete("/blocks/{other}", status_code=204, summary="Lift a block")
def unblock(other: Other, v: VivimDep, user: CurrentUser) -> Response:
    relations.unblock(v, user, other)
    return Response(status_code=204)


@router.get("/peers", response_model=PeerList, summary="Your peer connections")
def peers(v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return {"items": relations.peers(v, user)}


@router.post("/peers", response_model=PeerOut, summary="Record or change a peer connection to a DID")
def connect(body: PeerIn, v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return relations.connect_peer(v, user, body.peer_did, trust_level=body.trust_level, status=body.status)
