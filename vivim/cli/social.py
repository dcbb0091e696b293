"""`vivim circles|friends|shared ...`, `vivim follow|unfollow|block|unblock`, `vivim share`,
`vivim unshare`, `vivim reciprocity`: circles, relations and sharing from the command line.

Circles are named by id or by name (among the circles you belong to). Every command takes
``--json`` for scripts.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from vivim.app import UserRecord, Vivim
from vivim.cli.context import out, print_json, state
from vivim.domain.errors import InvalidInput
from vivim.domain.times import parse_time
from vivim.social import circles as circles_mod
from vivim.social import feed as feed_mod
from vivim.social import reciprocity, relations, remix, sharing
from vivim.social.shared_search import search_shared

circles_app = typer.Typer(help="Circles: groups you share units with.", no_args_is_help=True)
friends_app = typer.Typer(help="Friends and peer connections.", no_args_is_help=True)
shared_app = typer.Typer(help="Units shared with you: feed, search, show, annotate, remix, reshare.",
                         no_args_is_help=True)

JSON = typer.Option(False, "--json", help="Print JSON.")


def _ctx(ctx: typer.Context) -> tuple[Vivim, UserRecord]:
    st = state(ctx)
    return st.vivim, st.current_user()


def circle_ref(v: Vivim, user: UserRecord, ref: str) -> str:
    """A circle id from an id or the name of one of the user's circles."""
    mine = circles_mod.list_circles(v, user)
    if any(c["id"] == ref for c in mine):
        return ref
    named = [c["id"] for c in mine if c["name"].casefold() == ref.casefold()]
    if len(named) > 1:
        raise InvalidInput(f"you belong to {len(named)} circles named {ref!r}; use the circle id")
    return named[0] if named else ref  # an id of a circle you are only invited to, or a public one


def _emit(data: Any, as_json: bool, text: str) -> None:
    if as_json:
        print_json(data)
    else:
        out.print(text, highlight=False)


# -- circles ----------------------------------------------------------------------------------
@circles_app.command("list")
def circles_list(ctx: typer.Context, as_json: bool = JSON) -> None:
    """The circles you belong to."""
    v, user = _ctx(ctx)
    rows = circles_mod.list_circles(v, user)
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("you belong to no circles; `vivim circles create NAME` makes one")
        return
    table = Table("id", "name", "role", "members", "public")
    for c in rows:
        table.add_row(c["id"], escape(c["name"]), c["my_role"] or "", str(c["members"]), "yes" if c["is_public"] else "")
    out.print(table)


@circles_app.command("create")
def circles_create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The circle's name."),
    description: str | None = typer.Option(None, "--description", help="What the circle is for."),
    public: bool = typer.Option(False, "--public", help="Anyone may discover and join it."),
    as_json: bool = JSON,
) -> None:
    """Create a circle (you are its owner)."""
    v, user = _ctx(ctx)
    c = circles_mod.create_circle(v, user, name, description=description, is_public=public)
    _emit(c, as_json, f"created circle {escape(c['name'])} ({c['id']})")


@circles_app.command("show")
def circles_show(ctx: typer.Context, circle: str = typer.Argument(..., help="Circle id or name."), as_json: bool = JSON) -> None:
    """One circle, with its members if you belong to it."""
    v, user = _ctx(ctx)
    cid = circle_ref(v, user, circle)
    c = circles_mod.get_circle(v, user, cid)
    if c["my_role"]:
        c["member_list"] = circles_mod.members(v, user, cid)
    if as_json:
        print_json(c)
        return
    out.print(f"[bold]{escape(c['name'])}[/bold] ({c['id']}) owner {c['owner']}, {c['members']} member(s)"
              f"{', public' if c['is_public'] else ''}; your role: {c['my_role'] or 'invited'}")
    for m in c.get("member_list", []):
        flags = ", ".join(f for f, on in (("invite", m["can_invite"]), ("share", m["can_share"])) if on)
        out.print(f"  {m['handle']:20} {m['role']:7} {flags}")


@circles_app.command("rename")
def circles_rename(
    ctx: typer.Context,
    circle: str = typer.Argument(..., help="Circle id or name."),
    name: str = typer.Argument(..., help="The new name."),
    as_json: bool = JSON,
) -> None:
    """Rename a circle (owner or admin)."""
    v, user = _ctx(ctx)
    c = circles_mod.update_circle(v, user, circle_ref(v, user, circle), name=name)
    _emit(c, as_json, f"renamed to {escape(c['name'])}")


@circles_app.command("set")
def circles_set(
    ctx: typer.Context,
    circle: str = typer.Argument(..., help="Circle id or name."),
    description: str | None = typer.Option(None, "--description", help="New description."),
    public: bool | None = typer.Option(None, "--public/--private", help="Discoverable by everyone, or not."),
    as_json: bool = JSON,
) -> None:
    """Change a circle's description or visibility."""
    v, user = _ctx(ctx)
    c = circles_mod.update_circle(v, user, circle_ref(v, user, circle), description=description, is_public=public)
    _emit(c, as_json, f"{escape(c['name'])}: {'public' if c['is_public'] else 'private'}")


@circles_app.command("delete")
def circles_delete(ctx: typer.Context, circle: str = typer.Argument(..., help="Circle id or name."), as_json: bool = JSON) -> None:
    """Delete a circle (owner only); what was shared only with it stops being visible."""
    v, user = _ctx(ctx)
    cid = circle_ref(v, user, circle)
    circles_mod.delete_circle(v, user, cid)
    _emit({"deleted": cid}, as_json, f"deleted circle {cid}")


@circles_app.command("discover")
def circles_discover(
    ctx: typer.Context, query: str | None = typer.Argument(None, help="Words in the name."), as_json: bool = JSON
) -> None:
    """Public circles you can join."""
    v, user = _ctx(ctx)
    rows = circles_mod.discover_circles(v, user, query=query)
    if as_json:
        print_json(rows)
        return
    for c in rows:
        out.print(f"{c['id']}  {escape(c['name'])}  ({c['members']} members, owner {c['owner']})"
                  f"{'  [member]' if c['my_role'] else ''}")


@circles_app.command("join")
def circles_join(ctx: typer.Context, circle: str = typer.Argument(..., help="Circle id."), as_json: bool = JSON) -> None:
    """Join a public circle (or accept your invitation to it)."""
    v, user = _ctx(ctx)
    c = circles_mod.join_circle(v, user, circle)
    _emit(c, as_json, f"joined {escape(c['name'])} as {c['my_role']}")


@circles_app.command("leave")
def circles_leave(ctx: typer.Context, circle: str = typer.Argument(..., help="Circle id or name."), as_json: bool = JSON) -> None:
    """Leave a circle; what it shared with you is no longer visible."""
    v, user = _ctx(ctx)
    cid = circle_ref(v, user, circle)
    circles_mod.leave_circle(v, user, cid)
    _emit({"left": cid}, as_json, f"left circle {cid}")


@circles_app.command("invite")
def circles_invite(
    ctx: typer.Context,
    circle: str = typer.Argument(..., help="Circle id or name."),
    user_name: str = typer.Argument(..., metavar="USER", help="Who to invite (handle, id or DID)."),
    admin: bool = typer.Option(False, "--admin", help="Invite as an admin (owner only)."),
    can_invite: bool = typer.Option(False, "--can-invite", help="Let them invite others (owner only)."),
    can_share: bool = typer.Option(True, "--can-share/--no-share", help="Let them share units with the circle."),
    as_json: bool = JSON,
) -> None:
    """Invite someone; they become a member when they accept."""
    v, user = _ctx(ctx)
    inv = circles_mod.invite(v, user, circle_ref(v, user, circle), user_name, role="admin" if admin else "member",
                             can_invite=can_invite, can_share=can_share)
    _emit(inv, as_json, f"invited {inv['invitee']} to {escape(inv['circle_name'])} (invitation {inv['id']})")


@circles_app.command("invitations")
def circles_invitations(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Invitations waiting for your answer."""
    v, user = _ctx(ctx)
    rows = circles_mod.invitations(v, user)
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no pending invitations")
    for i in rows:
        out.print(f"{i['id']}  {escape(i['circle_name'])}  from {i['inviter']} as {i['role']}")


@circles_app.command("accept")
def circles_accept(ctx: typer.Context, invitation: str = typer.Argument(..., help="Invitation id."), as_json: bool = JSON) -> None:
    """Accept an invitation."""
    v, user = _ctx(ctx)
    inv = circles_mod.respond(v, user, invitation, accept=True)
    _emit(inv, as_json, f"joined {escape(inv['circle_name'])}")


@circles_app.command("decline")
def circles_decline(ctx: typer.Context, invitation: str = typer.Argument(..., help="Invitation id."), as_json: bool = JSON) -> None:
    """Decline an invitation."""
    v, user = _ctx(ctx)
    inv = circles_mod.respond(v, user, invitation, accept=False)
    _emit(inv, as_json, f"declined the invitation to {escape(inv['circle_name'])}")


@circles_app.command("members")
def circles_members(ctx: typer.Context, circle: str = typer.Argument(..., help="Circle id or name."), as_json: bool = JSON) -> None:
    """A circle's members, roles and rights."""
    v, user = _ctx(ctx)
    rows = circles_mod.members(v, user, circle_ref(v, user, circle))
    if as_json:
        print_json(rows)
        return
    for m in rows:
        out.print(f"{m['handle']:20} {m['role']:7} invite={'yes' if m['can_invite'] else 'no'} share={'yes' if m['can_share'] else 'no'}")


@circles_app.command("remove")
def circles_remove(
    ctx: typer.Context,
    circle: str = typer.Argument(..., help="Circle id or name."),
    user_name: str = typer.Argument(..., metavar="USER", help="Member to remove."),
    as_json: bool = JSON,
) -> None:
    """Remove a member (owner, or admin for plain members); their access ends at once."""
    v, user = _ctx(ctx)
    cid = circle_ref(v, user, circle)
    circles_mod.remove_member(v, user, cid, user_name)
    _emit({"removed": user_name, "circle_id": cid}, as_json, f"removed {user_name}")


@circles_app.command("role")
def circles_role(
    ctx: typer.Context,
    circle: str = typer.Argument(..., help="Circle id or name."),
    user_name: str = typer.Argument(..., metavar="USER", help="A member."),
    role: str | None = typer.Option(None, "--role", help="admin or member."),
    can_invite: bool | None = typer.Option(None, "--can-invite/--no-invite", help="May invite others."),
    can_share: bool | None = typer.Option(None, "--can-share/--no-share", help="May share with the circle."),
    as_json: bool = JSON,
) -> None:
    """Change a member's role or rights (owner only)."""
    v, user = _ctx(ctx)
    m = circles_mod.set_member(v, user, circle_ref(v, user, circle), user_name, role=role, can_invite=can_invite,
                               can_share=can_share)
    _emit(m, as_json, f"{m['handle']}: {m['role']}, invite={m['can_invite']}, share={m['can_share']}")


# -- friends, follows, blocks, peers -----------------------------------------------------------
@friends_app.command("list")
def friends_list(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", help="pending, accepted, rejected or blocked."),
    as_json: bool = JSON,
) -> None:
    """Friends and friend requests."""
    v, user = _ctx(ctx)
    rows = relations.list_friends(v, user, status=status)
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no friends or requests yet")
    for f in rows:
        out.print(f"{f['user'] or f['did']:20} {f['status']:9} {f['direction']}")


@friends_app.command("add")
def friends_add(ctx: typer.Context, user_name: str = typer.Argument(..., metavar="USER"), as_json: bool = JSON) -> None:
    """Send a friend request (or accept theirs)."""
    v, user = _ctx(ctx)
    f = relations.request_friend(v, user, user_name)
    _emit(f, as_json, f"{f['user']}: {f['status']}")


@friends_app.command("accept")
def friends_accept(ctx: typer.Context, user_name: str = typer.Argument(..., metavar="USER"), as_json: bool = JSON) -> None:
    """Accept a friend request."""
    v, user = _ctx(ctx)
    f = relations.respond_friend(v, user, user_name, accept=True)
    _emit(f, as_json, f"you and {f['user']} are friends")


@friends_app.command("reject")
def friends_reject(ctx: typer.Context, user_name: str = typer.Argument(..., metavar="USER"), as_json: bool = JSON) -> None:
    """Reject a friend request."""
    v, user = _ctx(ctx)
    f = relations.respond_friend(v, user, user_name, accept=False)
    _emit(f, as_json, f"rejected {f['user']}")


@friends_app.command("remove")
def friends_remove(ctx: typer.Context, user_name: str = typer.Argument(..., metavar="USER"), as_json: bool = JSON) -> None:
    """End a friendship or withdraw a request."""
    v, user = _ctx(ctx)
    relations.unfriend(v, user, user_name)
    _emit({"removed": user_name}, as_json, f"removed {user_name}")


@friends_app.command("peers")
def friends_peers(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Your peer connections (DIDs, status, trust level)."""
    v, user = _ctx(ctx)
    rows = relations.peers(v, user)
    if as_json:
        print_json(rows)
        return
    for p in rows:
        out.print(f"{p['peer_did']}  {p['status']:7} trust {p['trust_level']}")


@friends_app.command("connect")
def friends_connect(
    ctx: typer.Context,
    did: str = typer.Argument(..., help="The peer's did:key."),
    trust: int | None = typer.Option(None, "--trust", min=0, max=100, help="Trust level 0-100."),
    status: str | None = typer.Option(None, "--status", help="pending, active, blocked or closed."),
    as_json: bool = JSON,
) -> None:
    """Record or change a peer connection to a DID (here or on another node)."""
    v, user = _ctx(ctx)
    p = relations.connect_peer(v, user, did, trust_level=trust, status=status)
    _emit(p, as_json, f"{p['peer_did']}: {p['status']}, trust {p['trust_level']}")


def follow_command(ctx: typer.Context, user_name: str = typer.Argument(..., metavar="USER"), as_json: bool = JSON) -> None:
    """Follow someone: their public shares appear in your feed."""
    v, user = _ctx(ctx)
    _emit(relations.follow(v, user, user_name), as_json, f"following {user_name}")


def unfollow_command(ctx: typer.Context, user_name: str = typer.Argument(..., metavar="USER"), as_json: bool = JSON) -> None:
    """Stop following someone."""
    v, user = _ctx(ctx)
    relations.unfollow(v, user, user_name)
    _emit({"unfollowed": user_name}, as_json, f"no longer following {user_name}")


def follows_command(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Who you follow and who follows you."""
    v, user = _ctx(ctx)
    data = relations.follows(v, user)
    _emit(data, as_json, "following: " + ", ".join(f["user"] for f in data["following"]) + "\nfollowers: "
          + ", ".join(f["user"] for f in data["followers"]))


def block_command(ctx: typer.Context, user_name: str = typer.Argument(..., metavar="USER"), as_json: bool = JSON) -> None:
    """Block someone: you stop seeing each other, and they leave your circles."""
    v, user = _ctx(ctx)
    _emit(relations.block(v, user, user_name), as_json, f"blocked {user_name}")


def unblock_command(ctx: typer.Context, user_name: str = typer.Argument(..., metavar="USER"), as_json: bool = JSON) -> None:
    """Lift a block."""
    v, user = _ctx(ctx)
    relations.unblock(v, user, user_name)
    _emit({"unblocked": user_name}, as_json, f"unblocked {user_name}")


# -- sharing --------------------------------------------------------------------------------------
def _grant(v: Vivim, user: UserRecord, circle: list[str], public: bool, can_annotate: bool, can_remix: bool,
           can_reshare: bool, expires: str | None) -> sharing.Grant:
    return sharing.Grant.make(circles=[circle_ref(v, user, c) for c in circle], public=public,
                              can_annotate=can_annotate, can_remix=can_remix, can_reshare=can_reshare, expires=expires)


CIRCLE_OPT = typer.Option([], "--circle", "-c", help="Circle id or name (repeat for several).")
PUBLIC_OPT = typer.Option(False, "--public", help="Share publicly instead (followers and friends see it in their feed).")
ANNOTATE_OPT = typer.Option(False, "--can-annotate", help="The audience may attach notes.")
REMIX_OPT = typer.Option(False, "--can-remix", help="The audience may copy it into their vault.")
RESHARE_OPT = typer.Option(False, "--can-reshare", help="The audience may share it onward.")
EXPIRES_OPT = typer.Option(None, "--expires", help="When access ends: ISO 8601, or 30m, 12h, 7d, 2w from now.")


def _share_line(s: dict[str, Any]) -> str:
    where = "public" if s["policy"] == "public" else ", ".join(s["circles"])
    perms = ", ".join(k for k, on in s["granted"].items() if on and k != "can_view") or "view only"
    until = f", until {s['expires_at']}" if s["expires_at"] else ""
    return f"shared {s['unit_id']} as {s['id']} with {where} ({perms}{until})"


def share_command(
    ctx: typer.Context,
    unit: str = typer.Argument(..., help="The id of one of your units."),
    circle: list[str] = CIRCLE_OPT,
    public: bool = PUBLIC_OPT,
    can_annotate: bool = ANNOTATE_OPT,
    can_remix: bool = REMIX_OPT,
    can_reshare: bool = RESHARE_OPT,
    expires: str | None = EXPIRES_OPT,
    as_json: bool = JSON,
) -> None:
    """Share one of your signed units. Sharing it again replaces the policy (narrow or widen)."""
    v, user = _ctx(ctx)
    s = sharing.share_unit(v, user, unit, _grant(v, user, circle, public, can_annotate, can_remix, can_reshare, expires))
    _emit(s, as_json, _share_line(s))


def unshare_command(
    ctx: typer.Context,
    unit: str = typer.Argument(..., help="The unit id."),
    circle: list[str] = typer.Option([], "--circle", "-c", help="Only from this circle (repeat); default everywhere."),
    as_json: bool = JSON,
) -> None:
    """Revoke a share, everywhere or from some circles; access ends with the next request."""
    v, user = _ctx(ctx)
    result = sharing.unshare_unit(v, user, unit, circles=[circle_ref(v, user, c) for c in circle] or None)
    _emit(result, as_json, f"{unit}: now {result['policy']}" + (f" ({', '.join(result['circles'])})" if result["circles"] else ""))


def _print_item(i: dict[str, Any], n: int | None = None) -> None:
    check = i["verification"]
    mark = "[green]signature ok[/green]" if check["valid"] else f"[red]SIGNATURE INVALID: {escape(check['reason'])}[/red]"
    head = f"{'' if n is None else f'{n:>2}. '}{i['author'] or i['author_did']}"
    if i["sharer"] != i["author"]:
        head += f" via {i['sharer']}"
    score = f"  {i['score']:.3f}" if "score" in i else ""
    out.print(f"[bold]{escape(head)}[/bold]{score}  {i['published_at'][:19]}  {mark}  [dim]{i['id']}[/dim]")
    text = i["content"] if len(i["content"]) <= 400 else i["content"][:400] + "…"
    out.print("    " + escape(text).replace("\n", "\n    "))


@shared_app.command("feed")
def shared_feed(
    ctx: typer.Context,
    circle: str | None = typer.Option(None, "--circle", "-c", help="Only this circle (id or name)."),
    author: str | None = typer.Option(None, "--author", help="Only this person's shares."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=200, help="How many."),
    before: str | None = typer.Option(None, "--before", help="Continue after this item (the `next` value: TIME/ID)."),
    as_json: bool = JSON,
) -> None:
    """Units shared with you, newest first."""
    v, user = _ctx(ctx)
    cursor = None
    if before:
        when, _, sid = before.rpartition("/")
        parsed = parse_time(when)
        if parsed is None or not sid:
            raise InvalidInput("--before is TIME/ID, as printed after a page")
        cursor = (parsed, sid)
    page = feed_mod.feed(v, user, circle_id=circle_ref(v, user, circle) if circle else None, author=author,
                         limit=limit, before=cursor)
    if as_json:
        print_json(page)
        return
    if not page["items"]:
        out.print("nothing shared with you yet")
    for n, i in enumerate(page["items"], 1):
        _print_item(i, n)
    if page["next"]:
        out.print(f"more: --before {page['next']['published_at']}/{page['next']['id']}")


@shared_app.command("search")
def shared_search_command(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="What to look for."),
    limit: int = typer.Option(10, "--limit", "-k", min=1, max=200, help="How many hits."),
    no_vectors: bool = typer.Option(False, "--no-vectors", help="Full text only (skips loading the model)."),
    as_json: bool = JSON,
) -> None:
    """Hybrid search (full text + vectors) over the units shared with you."""
    v, user = _ctx(ctx)
    result = search_shared(v, user, query, limit=limit, embedder=None if no_vectors else v.embedder)
    if as_json:
        print_json(result)
        return
    if not result["hits"]:
        out.print("no matches among the units shared with you")
    for n, i in enumerate(result["hits"], 1):
        _print_item(i, n)


@shared_app.command("show")
def shared_show(ctx: typer.Context, shared_id: str = typer.Argument(..., help="The shared unit's id."), as_json: bool = JSON) -> None:
    """One shared unit, its signature check, your rights and its annotations."""
    v, user = _ctx(ctx)
    i = feed_mod.show(v, user, shared_id)
    if as_json:
        print_json(i)
        return
    _print_item(i)
    out.print(f"    you may: {', '.join(k for k, on in i['permissions'].items() if on)}")
    for a in i["annotations"]:
        out.print(f"    [italic]{escape(a['author'] or '')}[/italic]: {escape(a['body'])}")


@shared_app.command("annotate")
def shared_annotate(
    ctx: typer.Context,
    shared_id: str = typer.Argument(..., help="The shared unit's id."),
    body: str = typer.Argument(..., help="Your note."),
    as_json: bool = JSON,
) -> None:
    """Attach a note to a shared unit (its whole audience sees it)."""
    v, user = _ctx(ctx)
    note = feed_mod.annotate(v, user, shared_id, body)
    _emit(note, as_json, f"annotated ({note['id']})")


@shared_app.command("remix")
def shared_remix(
    ctx: typer.Context,
    shared_id: str = typer.Argument(..., help="The shared unit's id."),
    content: str | None = typer.Option(None, "--content", help="Your version of the text (default: unchanged)."),
    as_json: bool = JSON,
) -> None:
    """Copy a shared unit into your vault as your own signed unit, derived from it."""
    v, user = _ctx(ctx)
    r = remix.remix(v, user, shared_id, content=content, embedder=v.embedder if content is not None else None)
    _emit(r, as_json, f"{'remixed into' if r['created'] else 'already remixed as'} unit {r['unit_id']}"
          f" (derived from {r['derived_from']})")


@shared_app.command("reshare")
def shared_reshare(
    ctx: typer.Context,
    shared_id: str = typer.Argument(..., help="The shared unit's id."),
    circle: list[str] = CIRCLE_OPT,
    public: bool = PUBLIC_OPT,
    can_annotate: bool = ANNOTATE_OPT,
    can_remix: bool = REMIX_OPT,
    can_reshare: bool = RESHARE_OPT,
    expires: str | None = EXPIRES_OPT,
    as_json: bool = JSON,
) -> None:
    """Share a unit shared with you onward (needs canReshare; never more than you were given)."""
    v, user = _ctx(ctx)
    s = sharing.reshare(v, user, shared_id, _grant(v, user, circle, public, can_annotate, can_remix, can_reshare, expires))
    _emit(s, as_json, _share_line(s))


@shared_app.command("mine")
def shared_mine(ctx: typer.Context, as_json: bool = JSON) -> None:
    """What you have shared, with its audience size."""
    v, user = _ctx(ctx)
    rows = sharing.my_shares(v, user)
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("you have not shared anything")
    for s in rows:
        out.print(f"{_share_line(s)}; audience {s['audience']}{' [expired]' if s['expired'] else ''}")


def reciprocity_command(ctx: typer.Context, as_json: bool = JSON) -> None:
    """What you gave and received, per peer and per circle."""
    v, user = _ctx(ctx)
    data = reciprocity.summary(v, user)
    if as_json:
        print_json(data)
        return
    out.print(f"given: {data['given']['shares']} share(s), taken {data['given']['taken_by_others']} time(s) by others")
    out.print(f"received: {data['received']['shared_with_me']} unit(s) shared with you, taken {data['received']['taken']} time(s)")
    table = Table("peer", "they took (view/remix/context)", "you took", "balance")
    for p in data["peers"]:
        g, r = p["given"], p["received"]
        table.add_row(p["user"] or p["did"], f"{g['view']}/{g['remix']}/{g['context']}",
                      f"{r['view']}/{r['remix']}/{r['context']}", str(p["balance"]))
    out.print(table)
    for c in data["circles"]:
        out.print(f"circle {c['name'] or c['circle_id']}: shared {c['shared']}, taken by others {sum(c['given'].values())},"
                  f" taken by you {sum(c['received'].values())}")

