"""Sharing: publish your units, revoke them, and read, search, annotate, remix and reshare
what is shared with you; reciprocity. Every read checks the policy, expiry and blocks
again, and verifies the author's signature."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from vivim.api.deps import CurrentUser, VivimDep
from vivim.api.pagination import CursorParam, decode_cursor, encode_cursor, time_key
from vivim.api.routers.circles import SOCIAL_ERRORS, permitted
from vivim.api.schemas.social_sharing import (
    AnnotationIn,
    AnnotationList,
    AnnotationOut,
    ContextUseIn,
    ContextUseOut,
    Grant,
    ReciprocityOut,
    RemixIn,
    RemixOut,
    SharedSearchOut,
    SharedUnitList,
    SharedUnitOut,
    ShareIn,
    UnshareOut,
)
from vivim.social import feed, reciprocity, remix, sharing
from vivim.social.shared_search import search_shared

router = APIRouter(tags=["sharing"], responses=SOCIAL_ERRORS)
SharedId = Annotated[str, Path(max_length=36, description="The share's id (from the feed).")]
UnitId = Annotated[str, Path(max_length=64, description="The id of one of your units.")]
AnnotationId = Annotated[str, Path(max_length=36)]


def _grant(body: Grant) -> sharing.Grant:
    return sharing.Grant.make(
        circles=body.circles,
        public=body.public,
        can_annotate=body.can_annotate,
        can_remix=body.can_remix,
        can_reshare=body.can_reshare,
        expires=body.expires_at,
    )


@router.get("/shares", response_model=SharedUnitList, summary="What you have shared, newest first")
def my_shares(v: VivimDep, user: CurrentUser, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict[str, Any]:
    return {"items": sharing.my_shares(v, user, limit=limit)}


@router.post("/shares", response_model=SharedUnitOut, summary="Share one of your units (again: replace its policy)")
@permitted
def share(body: ShareIn, v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return sharing.share_unit(v, user, body.unit_id, _grant(body))


@router.delete("/shares/{unit_id}", response_model=UnshareOut, summary="Revoke a share, everywhere or from some circles")
def unshare(
    unit_id: UnitId,
    v: VivimDep,
    user: CurrentUser,
    circle: Annotated[list[str] | None, Query(max_length=100, description="Only from these circles.")] = None,
) -> dict[str, Any]:
    return sharing.unshare_unit(v, user, unit_id, circles=circle or None)


@router.get("/shared", response_model=SharedUnitList, summary="Units shared with you, newest first")
def shared_feed(
    v: VivimDep,
    user: CurrentUser,
    circle_id: Annotated[str | None, Query(max_length=36, description="Only this circle.")] = None,
    author: Annotated[str | None, Query(max_length=255, description="Only this person's shares.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorParam = None,
) -> dict[str, Any]:
    before = time_key(decode_cursor(cursor, "shared", 2))
    page = feed.feed(v, user, circle_id=circle_id, author=author, limit=limit, before=before)
    nxt = page["next"]
    return {"items": page["items"], "next_cursor": encode_cursor("shared", [nxt["published_at"], nxt["id"]]) if nxt else None}


@router.get("/shared/search", response_model=SharedSearchOut, summary="Hybrid search over units shared with you")
def search(
    v: VivimDep,
    user: CurrentUser,
    q: Annotated[str, Query(max_length=2000, description="What to look for.")],
    limit: Annotated[int, Query(ge=1, le=200)] = 10,
) -> dict[str, Any]:
    return search_shared(v, user, q, limit=limit, embedder=v.embedder)


@router.get("/shared/{shared_id}", response_model=SharedUnitOut, summary="One shared unit with its annotations")
def show(shared_id: SharedId, v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return feed.show(v, user, shared_id)


@router.get("/shared/{shared_id}/annotations", response_model=AnnotationList, summary="A shared unit's annotations")
def list_annotations(shared_id: SharedId, v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return {"items": feed.annotations(v, user, shared_id)}


@router.post(
    "/shared/{shared_id}/annotations", response_model=AnnotationOut, status_code=201, summary="Annotate (canAnnotate)"
)
@permitted
def annotate(shared_id: SharedId, body: AnnotationIn, v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return feed.annotate(v, user, shared_id, body.body)


@router.delete("/shared/{shared_id}/annotations/{annotation_id}", status_code=204, summary="Remove an annotation")
@permitted
def delete_annotation(shared_id: SharedId, annotation_id: AnnotationId, v: VivimDep, user: CurrentUser) -> Response:
    feed.delete_annotation(v, user, shared_id, annotation_id)
    return Response(status_code=204)


@router.post("/shared/{shared_id}/remix", response_model=RemixOut, summary="Copy into your vault as your signed unit")
@permitted
def remix_shared(shared_id: SharedId, body: RemixIn, v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    embedder = v.embedder if body.content is not None else None
    return remix.remix(v, user, shared_id, content=body.content, embedder=embedder)


@router.post("/shared/{shared_id}/reshare", response_model=SharedUnitOut, summary="Share onward (canReshare)")
@permitted
def reshare(shared_id: SharedId, body: Grant, v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return sharing.reshare(v, user, shared_id, _grant(body))


@router.get("/reciprocity", response_model=ReciprocityOut, summary="Given and received, per peer and per circle")
def reciprocity_summary(v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return reciprocity.summary(v, user)


@router.post(
    "/reciprocity/context", response_model=ContextUseOut, summary="Record shared units used in a context bundle"
)
def context_use(body: ContextUseIn, v: VivimDep, user: CurrentUser) -> dict[str, Any]:
    return {"counted": reciprocity.record_context_use(v, user, body.shared_ids)}
