"""Master DB migrations on real SQLite and PostgreSQL: blank -> head, each old revision -> head,
revision reporting, and models == migrated schema."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from vivim.domain.errors import SchemaTooNew
from vivim.store.master.db import MasterDB
from vivim.store.master.drift import schema_differences
from vivim.store.master.models import Base

REVISIONS = ["0001_identity", "0002_social", "0003_system_and_reciprocity", "0004_auth", "0005_sharing"]
IDENTITY_TABLES = {"users", "devices", "user_databases"}
SOCIAL_TABLES = {"circles", "circle_members", "peer_connections", "friends", "follows"}
SYSTEM_TABLES = {
    "capture_attempts",
    "provider_stats",
    "system_commands",
    "system_actions",
    "contributions",
    "consumptions",
}
AUTH_TABLES = {"auth_challenges", "auth_sessions", "api_tokens"}
SHARING_TABLES = {
    "circle_invitations",
    "blocks",
    "shared_units",
    "shared_unit_circles",
    "shared_unit_access",
    "annotations",
    "sharing_state",
}
TABLES_AT = {
    "0001_identity": IDENTITY_TABLES,
    "0002_social": IDENTITY_TABLES | SOCIAL_TABLES,
    "0003_system_and_reciprocity": IDENTITY_TABLES | SOCIAL_TABLES | SYSTEM_TABLES,
    "0004_auth": IDENTITY_TABLES | SOCIAL_TABLES | SYSTEM_TABLES | AUTH_TABLES,
    "0005_sharing": IDENTITY_TABLES | SOCIAL_TABLES | SYSTEM_TABLES | AUTH_TABLES | SHARING_TABLES,
}

ALICE = "a" * 32
BOB = "b" * 32


def tables(db: MasterDB) -> set[str]:
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def count(db: MasterDB, table: str) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


# Rows written with plain SQL naming only the columns each revision created, the way code
# released at that revision would have written them.
def seed_identity(db: MasterDB) -> None:
    with db.engine.begin() as conn:
        for uid, handle in ((ALICE, "alice"), (BOB, "bob")):
            conn.execute(
                text("INSERT INTO users (id, did, handle, public_key) VALUES (:id, :did, :handle, 'pk')"),
                {"id": uid, "did": f"did:key:z{handle}", "handle": handle},
            )
        conn.execute(
            text(
                "INSERT INTO devices (id, user_id, device_id, device_name, device_type, "
                "platform, public_key) VALUES ('d1', :u, 'laptop-1', 'Laptop', 'desktop', "
                "'linux', 'dpk')"
            ),
            {"u": ALICE},
        )
        conn.execute(
            text("INSERT INTO user_databases (user_id, path) VALUES (:u, 'users/aa/a.sqlite')"),
            {"u": ALICE},
        )


def seed_social(db: MasterDB) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO circles (id, owner_id, name) VALUES ('c1', :u, 'Family')"),
            {"u": ALICE},
        )
        conn.execute(
            text("INSERT INTO circle_members (id, circle_id, user_id) VALUES ('m1', 'c1', :u)"),
            {"u": BOB},
        )
        conn.execute(
            text("INSERT INTO friends (id, requester_id, addressee_id) VALUES ('f1', :a, :b)"),
            {"a": ALICE, "b": BOB},
        )


def test_a_blank_database_has_no_revision_and_every_revision_pending(master_db: MasterDB) -> None:
    assert master_db.current_revision() is None
    assert master_db.head_revision() == REVISIONS[-1]
    assert master_db.pending_revisions() == REVISIONS


def test_upgrading_a_blank_database_reaches_head_with_every_table(master_db: MasterDB) -> None:
    master_db.upgrade()
    assert master_db.current_revision() == REVISIONS[-1]
    assert master_db.pending_revisions() == []
    assert tables(master_db) == TABLES_AT[REVISIONS[-1]]
    assert tables(master_db) == set(Base.metadata.tables)


@pytest.mark.parametrize("revision", REVISIONS[:-1])
def test_a_database_at_an_earlier_revision_migrates_to_head_and_keeps_its_rows(
    master_db: MasterDB, revision: str
) -> None:
    master_db.upgrade(revision)
    assert master_db.current_revision() == revision
    assert tables(master_db) == TABLES_AT[revision]
    assert master_db.pending_revisions() == REVISIONS[REVISIONS.index(revision) + 1 :]
    seed_identity(master_db)
    if revision == "0002_social":
        seed_social(master_db)

    master_db.upgrade()

    assert master_db.current_revision() == REVISIONS[-1]
    assert master_db.pending_revisions() == []
    assert tables(master_db) == TABLES_AT[REVISIONS[-1]]
    assert count(master_db, "users") == 2
    assert count(master_db, "devices") == 1
    with master_db.engine.connect() as conn:
        row = conn.execute(
            text("SELECT handle, key_type, trust_score, status, settings FROM users WHERE id = :u"),
            {"u": ALICE},
        ).one()
        placement = conn.execute(
            text("SELECT path, schema_version, node FROM user_databases WHERE user_id = :u"),
            {"u": ALICE},
        ).one()
    # Server defaults filled in what the old code never wrote.
    assert (row.handle, row.key_type, row.trust_score, row.status) == (
        "alice",
        "Ed25519",
        50.0,
        "ACTIVE",
    )
    assert row.settings in ({}, "{}")  # JSON comes back decoded on PostgreSQL, as text on SQLite
    assert tuple(placement) == ("users/aa/a.sqlite", 0, "local")
    if revision == "0002_social":
        assert count(master_db, "circle_members") == 1
        assert count(master_db, "friends") == 1


def test_upgrading_twice_is_a_no_op(master_db: MasterDB) -> None:
    master_db.upgrade()
    seed_identity(master_db)
    master_db.upgrade()
    assert master_db.current_revision() == REVISIONS[-1]
    assert count(master_db, "users") == 2


def test_the_migrated_schema_matches_the_models(migrated_db: MasterDB) -> None:
    with migrated_db.engine.connect() as conn:
        assert schema_differences(conn) == []


def test_the_drift_check_notices_a_missing_index(migrated_db: MasterDB) -> None:
    with migrated_db.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_devices_user_id_is_active"))
    with migrated_db.engine.connect() as conn:
        diffs = schema_differences(conn)
    assert [(d[0], d[1].name) for d in diffs] == [("add_index", "ix_devices_user_id_is_active")]


def test_newest_first_indexes_are_descending(migrated_db: MasterDB) -> None:
    expected = {
        "ix_capture_attempts_created_at": "capture_attempts",
        "ix_capture_attempts_ip_address_created_at": "capture_attempts",
        "ix_capture_attempts_user_id_created_at": "capture_attempts",
        "ix_system_actions_started_at": "system_actions",
        "ix_contributions_timestamp": "contributions",
        "ix_consumptions_timestamp": "consumptions",
    }
    with migrated_db.engine.connect() as conn:
        for index in expected:
            if conn.dialect.name == "sqlite":
                # index_xinfo: (seqno, cid, name, desc, coll, key); keys only.
                info = conn.exec_driver_sql(f"PRAGMA index_xinfo({index})").all()
                sort = [(r[2], bool(r[3])) for r in info if r[5]]
            else:
                definition = conn.execute(
                    text("SELECT indexdef FROM pg_indexes WHERE indexname = :i"), {"i": index}
                ).scalar_one()
                cols = definition.split("(", 1)[1].rsplit(")", 1)[0].split(", ")
                sort = [(c.split(" ")[0], c.endswith(" DESC")) for c in cols]
            # The last key column is the timestamp and sorts newest first; any leading one doesn't.
            assert sort[-1][1] is True, (index, sort)
            assert all(not desc for _, desc in sort[:-1]), (index, sort)


def test_downgrading_to_base_drops_everything_and_upgrading_rebuilds_it(
    master_db: MasterDB,
) -> None:
    master_db.upgrade()
    master_db.downgrade("base")
    assert master_db.current_revision() is None
    assert tables(master_db) == set()
    master_db.upgrade()
    assert tables(master_db) == TABLES_AT[REVISIONS[-1]]


def test_a_database_from_a_newer_vivim_is_refused(migrated_db: MasterDB) -> None:
    with migrated_db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    assert migrated_db.current_revision() == "0099_from_the_future"
    with pytest.raises(SchemaTooNew, match="0099_from_the_future"):
        migrated_db.pending_revisions()
    with pytest.raises(SchemaTooNew):
        migrated_db.upgrade()
