"""Property: whatever three devices do offline and whenever they sync with the server,
once everyone has synced every copy holds the same rows."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sync_support import USER_ID, hub_sync, make_store, snapshot
from vivim.store.user.db import UserStore, open_store

DEVICES = ("laptop", "phone", "tablet")

edit = st.tuples(
    st.sampled_from(DEVICES),
    st.sampled_from(["fact", "notebook", "entry", "delete_fact", "delete_notebook"]),
    st.integers(0, 3),
    st.sampled_from(["a", "b", "c", "d", "e"]),
)
step = st.one_of(edit, st.tuples(st.just("sync"), st.sampled_from(DEVICES)))


def _apply(store: UserStore, kind: str, n: int, value: str) -> None:
    statements = {
        # Facts are unique by content hash: equal contents under other ids collide.
        "fact": (
            "INSERT INTO user_facts (id, content, content_hash, created_at, updated_at) VALUES (?, ?, ?, 't', 't')"
            " ON CONFLICT (id) DO UPDATE SET content = excluded.content, content_hash = excluded.content_hash",
            (f"f{n}", value, value),
        ),
        "notebook": (
            "INSERT INTO notebooks (id, title, created_at, updated_at) VALUES (?, ?, 't', 't')"
            " ON CONFLICT (id) DO UPDATE SET title = excluded.title",
            (f"n{n % 2}", value),
        ),
        "entry": (
            "INSERT INTO notebook_entries (id, notebook_id, entry_type, note, position, created_at, updated_at)"
            " VALUES (?, ?, 'note', ?, ?, 't', 't') ON CONFLICT (id) DO UPDATE SET note = excluded.note",
            (f"e{n}", f"n{n % 2}", value, n),
        ),
        "delete_fact": ("DELETE FROM user_facts WHERE id = ?", (f"f{n}",)),
        "delete_notebook": ("DELETE FROM notebooks WHERE id = ?", (f"n{n % 2}",)),
    }
    sql, args = statements[kind]
    try:
        with store.transaction() as conn:
            conn.execute(sql, args)
    except sqlite3.IntegrityError:
        pass  # refused locally (a duplicate fact, an entry without its notebook): no edit


_template: list[Path] = []


def _stores(folder: Path) -> dict[str, UserStore]:
    if not _template:
        base = Path(tempfile.mkdtemp(prefix="vivim-sync-template-"))
        make_store(base, "template").close()
        _template.append(base / "template.sqlite")
    out = {}
    for name in (*DEVICES, "server"):
        shutil.copyfile(_template[0], folder / f"{name}.sqlite")
        out[name] = open_store(folder / f"{name}.sqlite", USER_ID)
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=30))
def test_random_interleavings_across_three_devices_converge(steps: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stores = _stores(Path(tmp))
        try:
            for s in steps:
                if s[0] == "sync":
                    hub_sync(stores[s[1]], stores["server"], s[1], page_size=2)
                else:
                    device, kind, n, value = s
                    _apply(stores[device], kind, n, value)
            # Everyone syncs until nothing moves (a settled duplicate can cause one more
            # round of tombstones).
            for _ in range(6):
                moved = 0
                for d in DEVICES:
                    r = hub_sync(stores[d], stores["server"], d, page_size=3)
                    moved += r.local.applied + r.remote.applied
                if moved == 0:
                    break
            state = snapshot(stores["server"])
            for d in DEVICES:
                assert snapshot(stores[d]) == state, d
        finally:
            for store in stores.values():
                store.close()
