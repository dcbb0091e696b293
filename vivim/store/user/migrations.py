"""User DB migrations: ordered, named, applied when a user DB is opened.

Each migration is a list of SQL statements run in one transaction together with the row
that records it, so a crash leaves the DB at the previous version, never half-migrated.
``PRAGMA user_version`` mirrors the number of applied migrations: opening a DB that is
already at head costs one pragma read, which keeps cold opens in the low milliseconds.

Never edit or reorder a released migration; add a new one.

Naming: tables and columns are the seeds' names in snake_case (``messageIndex`` ->
``message_index``). Timestamps are ISO 8601 UTC text (``...Z``, sorts as time); JSON is
text; ``String[]`` is a JSON array; embeddings are float32 BLOBs with their model name and
dimension beside them. docs/SCHEMA.md lists every field and every deviation from the seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    name: str
    statements: Sequence[str]


# --- 0001: the vault itself, conversations and messages --------------------------------
_M0001 = Migration(
    "0001_vault_conversations_messages",
    [
        # Who this file belongs to. Checked on every open, so a file moved or copied into
        # another user's place is refused instead of served to the wrong person.
        """CREATE TABLE vault_meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID""",
        """CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            source_id TEXT NOT NULL,
            source_url TEXT,
            content_hash TEXT,
            version INTEGER NOT NULL DEFAULT 1,
            title TEXT NOT NULL DEFAULT '',
            model TEXT,
            created_at TEXT,
            updated_at TEXT,
            captured_at TEXT NOT NULL,
            message_count INTEGER NOT NULL DEFAULT 0,
            user_message_count INTEGER NOT NULL DEFAULT 0,
            ai_message_count INTEGER NOT NULL DEFAULT 0,
            total_words INTEGER NOT NULL DEFAULT 0,
            total_characters INTEGER NOT NULL DEFAULT 0,
            total_tokens INTEGER,
            total_code_blocks INTEGER NOT NULL DEFAULT 0,
            total_images INTEGER NOT NULL DEFAULT 0,
            total_tables INTEGER NOT NULL DEFAULT 0,
            total_latex_blocks INTEGER NOT NULL DEFAULT 0,
            total_mermaid_diagrams INTEGER NOT NULL DEFAULT 0,
            total_tool_calls INTEGER NOT NULL DEFAULT 0,
            metadata TEXT NOT NULL DEFAULT '{}'
        )""",
        # The seeds made sourceUrl globally unique, which let one user's capture overwrite
        # another's; here it is unique within the user's own file.
        "CREATE UNIQUE INDEX conversations_source_url ON conversations(source_url) WHERE source_url IS NOT NULL",
        "CREATE UNIQUE INDEX conversations_provider_source ON conversations(provider, source_id)",
        "CREATE INDEX conversations_provider_captured ON conversations(provider, captured_at DESC)",
        "CREATE INDEX conversations_captured ON conversations(captured_at DESC)",
        "CREATE INDEX conversations_created ON conversations(created_at DESC)",
        """CREATE TABLE messages (
            id TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            source_id TEXT NOT NULL,
            parent_id TEXT REFERENCES messages(id) ON DELETE SET NULL,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
            author TEXT,
            parts TEXT NOT NULL,
            content_hash TEXT,
            version INTEGER NOT NULL DEFAULT 1,
            created_at TEXT,
            message_index INTEGER NOT NULL,
            status TEXT NOT NULL DEFAULT 'completed',
            finish_reason TEXT,
            token_count INTEGER,
            model TEXT,
            hidden INTEGER NOT NULL DEFAULT 0,
            on_current_path INTEGER NOT NULL DEFAULT 1,
            metadata TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE UNIQUE INDEX messages_conversation_source ON messages(conversation_id, source_id)",
        "CREATE INDEX messages_conversation_index ON messages(conversation_id, message_index)",
        "CREATE INDEX messages_conversation_created ON messages(conversation_id, created_at)",
        "CREATE INDEX messages_role ON messages(role)",
        "CREATE INDEX messages_parent ON messages(parent_id)",
    ],
)

# --- 0002: atomic chat units and their links -------------------------------------------
_M0002 = Migration(
    "0002_units_and_links",
    [
        """CREATE TABLE atomic_chat_units (
            id TEXT PRIMARY KEY,
            author_did TEXT NOT NULL,
            signature BLOB,
            content TEXT NOT NULL,
            content_hash TEXT,
            version INTEGER NOT NULL DEFAULT 1,
            language TEXT,
            type TEXT NOT NULL,
            category TEXT NOT NULL,
            embedding BLOB,
            embedding_model TEXT,
            embedding_dim INTEGER,
            conversation_id TEXT REFERENCES conversations(id) ON DELETE CASCADE,
            message_id TEXT REFERENCES messages(id) ON DELETE CASCADE,
            message_index INTEGER,
            parent_id TEXT REFERENCES atomic_chat_units(id) ON DELETE SET NULL,
            provider TEXT,
            model TEXT,
            source_timestamp TEXT,
            extractor_version TEXT,
            parser_version TEXT,
            quality_overall REAL,
            content_richness REAL,
            structural_integrity REAL,
            uniqueness REAL,
            view_count INTEGER NOT NULL DEFAULT 0,
            share_count INTEGER NOT NULL DEFAULT 0,
            quote_count INTEGER NOT NULL DEFAULT 0,
            rediscovery_score REAL,
            sharing_policy TEXT NOT NULL DEFAULT 'self' CHECK (sharing_policy IN ('self', 'circle', 'public')),
            sharing_circles TEXT NOT NULL DEFAULT '[]',
            can_view INTEGER NOT NULL DEFAULT 1,
            can_annotate INTEGER NOT NULL DEFAULT 0,
            can_remix INTEGER NOT NULL DEFAULT 0,
            can_reshare INTEGER NOT NULL DEFAULT 0,
            expires_at TEXT,
            created_at TEXT NOT NULL,
            indexed_at TEXT,
            metadata TEXT NOT NULL DEFAULT '{}',
            tags TEXT NOT NULL DEFAULT '[]'
        )""",
        "CREATE INDEX acu_conversation ON atomic_chat_units(conversation_id)",
        "CREATE INDEX acu_message ON atomic_chat_units(message_id)",
        "CREATE INDEX acu_author_created ON atomic_chat_units(author_did, created_at DESC)",
        "CREATE INDEX acu_type ON atomic_chat_units(type)",
        "CREATE INDEX acu_category ON atomic_chat_units(category)",
        "CREATE INDEX acu_quality ON atomic_chat_units(quality_overall DESC)",
        "CREATE INDEX acu_rediscovery ON atomic_chat_units(rediscovery_score DESC)",
        "CREATE INDEX acu_created ON atomic_chat_units(created_at DESC)",
        "CREATE INDEX acu_sharing_policy ON atomic_chat_units(sharing_policy)",
        "CREATE INDEX acu_parent ON atomic_chat_units(parent_id)",
        """CREATE TABLE acu_links (
            id TEXT PRIMARY KEY,
            source_id TEXT NOT NULL REFERENCES atomic_chat_units(id) ON DELETE CASCADE,
            target_id TEXT NOT NULL REFERENCES atomic_chat_units(id) ON DELETE CASCADE,
            relation TEXT NOT NULL,
            weight REAL NOT NULL DEFAULT 1.0,
            created_by_did TEXT,
            created_at TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE UNIQUE INDEX acu_links_unique ON acu_links(source_id, target_id, relation)",
        "CREATE INDEX acu_links_target ON acu_links(target_id)",
        "CREATE INDEX acu_links_relation ON acu_links(relation)",
    ],
)

# --- 0003: memories, facts, topics and entities ---------------------------------------
_M0003 = Migration(
    "0003_memories_facts_profiles",
    [
        """CREATE TABLE memories (
            id TEXT PRIMARY KEY,
            content TEXT NOT NULL,
            summary TEXT,
            memory_type TEXT NOT NULL DEFAULT 'EPISODIC' CHECK (memory_type IN (
                'EPISODIC', 'SEMANTIC', 'PROCEDURAL', 'FACTUAL', 'PREFERENCE', 'IDENTITY',
                'RELATIONSHIP', 'GOAL', 'PROJECT', 'CUSTOM')),
            category TEXT,
            content_hash TEXT,
            extracted_entities TEXT NOT NULL DEFAULT '{}',
            topics TEXT NOT NULL DEFAULT '[]',
            embedding BLOB,
            embedding_model TEXT,
            embedding_dim INTEGER,
            importance INTEGER NOT NULL DEFAULT 5 CHECK (importance BETWEEN 0 AND 10),
            access_count INTEGER NOT NULL DEFAULT 0,
            last_accessed_at TEXT,
            pinned INTEGER NOT NULL DEFAULT 0,
            archived INTEGER NOT NULL DEFAULT 0,
            source_conversation_id TEXT REFERENCES conversations(id) ON DELETE SET NULL,
            source_message_id TEXT REFERENCES messages(id) ON DELETE SET NULL,
            source_unit_id TEXT REFERENCES atomic_chat_units(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX memories_importance ON memories(importance DESC)",
        "CREATE INDEX memories_created ON memories(created_at DESC)",
        "CREATE INDEX memories_type ON memories(memory_type)",
        "CREATE INDEX memories_content_hash ON memories(content_hash)",
        """CREATE TABLE user_facts (
            id TEXT PRIMARY KEY,
            category TEXT NOT NULL DEFAULT 'general',
            content TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            confidence REAL NOT NULL DEFAULT 1.0,
            importance INTEGER NOT NULL DEFAULT 5,
            pinned INTEGER NOT NULL DEFAULT 0,
            archived INTEGER NOT NULL DEFAULT 0,
            source_conversation_id TEXT REFERENCES conversations(id) ON DELETE SET NULL,
            source_message_id TEXT REFERENCES messages(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE UNIQUE INDEX user_facts_content_hash ON user_facts(content_hash)",
        """CREATE TABLE topic_profiles (
            id TEXT PRIMARY KEY,
            slug TEXT NOT NULL UNIQUE,
            label TEXT NOT NULL,
            keyphrases TEXT NOT NULL DEFAULT '[]',
            description TEXT,
            embedding BLOB,
            embedding_model TEXT,
            first_engaged_at TEXT,
            last_engaged_at TEXT,
            conversation_count INTEGER NOT NULL DEFAULT 0,
            message_count INTEGER NOT NULL DEFAULT 0,
            unit_count INTEGER NOT NULL DEFAULT 0,
            importance REAL NOT NULL DEFAULT 0,
            is_dirty INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX topic_profiles_importance ON topic_profiles(importance DESC)",
        """CREATE TABLE entity_profiles (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            normalized_name TEXT NOT NULL,
            entity_type TEXT NOT NULL DEFAULT 'other',
            aliases TEXT NOT NULL DEFAULT '[]',
            description TEXT,
            first_seen_at TEXT,
            last_seen_at TEXT,
            mention_count INTEGER NOT NULL DEFAULT 0,
            conversation_count INTEGER NOT NULL DEFAULT 0,
            importance REAL NOT NULL DEFAULT 0,
            is_dirty INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE UNIQUE INDEX entity_profiles_name_type ON entity_profiles(normalized_name, entity_type)",
        "CREATE INDEX entity_profiles_importance ON entity_profiles(importance DESC)",
        """CREATE TABLE topic_conversations (
            topic_id TEXT NOT NULL REFERENCES topic_profiles(id) ON DELETE CASCADE,
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            relevance REAL NOT NULL DEFAULT 1.0,
            created_at TEXT NOT NULL,
            PRIMARY KEY (topic_id, conversation_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX topic_conversations_conversation ON topic_conversations(conversation_id)",
    ],
)

# --- 0004: what shapes context: instructions, personas, settings, bundles, compactions,
#           notebooks ---------------------------------------------------------------------
_M0004 = Migration(
    "0004_context_and_notebooks",
    [
        """CREATE TABLE ai_personas (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            description TEXT,
            system_prompt TEXT NOT NULL,
            trigger TEXT NOT NULL DEFAULT '[]',
            is_active INTEGER NOT NULL DEFAULT 1,
            is_default INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}'
        )""",
        """CREATE TABLE custom_instructions (
            id TEXT PRIMARY KEY,
            content TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            scope TEXT NOT NULL DEFAULT 'global' CHECK (scope IN ('global', 'topic', 'conversation', 'persona')),
            topic_tags TEXT NOT NULL DEFAULT '[]',
            priority INTEGER NOT NULL DEFAULT 0,
            is_active INTEGER NOT NULL DEFAULT 1,
            source TEXT NOT NULL DEFAULT 'user',
            source_conversation_id TEXT REFERENCES conversations(id) ON DELETE SET NULL,
            persona_id TEXT REFERENCES ai_personas(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE UNIQUE INDEX custom_instructions_scope_hash ON custom_instructions(scope, content_hash)",
        "CREATE INDEX custom_instructions_active_priority ON custom_instructions(is_active, priority DESC)",
        # One row: the settings of this vault's owner.
        """CREATE TABLE user_context_settings (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            preset TEXT NOT NULL DEFAULT 'balanced',
            max_context_tokens INTEGER NOT NULL DEFAULT 4000,
            layer_budgets TEXT NOT NULL DEFAULT '{}',
            similarity_threshold REAL NOT NULL DEFAULT 0.35,
            exclusions TEXT NOT NULL DEFAULT '{}',
            settings TEXT NOT NULL DEFAULT '{}',
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE context_bundles (
            id TEXT PRIMARY KEY,
            cache_key TEXT NOT NULL UNIQUE,
            bundle_type TEXT NOT NULL,
            conversation_id TEXT REFERENCES conversations(id) ON DELETE CASCADE,
            persona_id TEXT REFERENCES ai_personas(id) ON DELETE CASCADE,
            budget_tokens INTEGER NOT NULL,
            total_tokens INTEGER NOT NULL,
            content TEXT NOT NULL,
            composition TEXT NOT NULL DEFAULT '{}',
            source_fingerprint TEXT NOT NULL,
            is_dirty INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            expires_at TEXT
        )""",
        "CREATE INDEX context_bundles_conversation ON context_bundles(conversation_id)",
        "CREATE INDEX context_bundles_expires ON context_bundles(expires_at)",
        """CREATE TABLE conversation_compactions (
            id TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            from_message_index INTEGER NOT NULL,
            to_message_index INTEGER NOT NULL,
            summary TEXT NOT NULL,
            key_decisions TEXT NOT NULL DEFAULT '[]',
            open_questions TEXT NOT NULL DEFAULT '[]',
            code_artifacts TEXT NOT NULL DEFAULT '[]',
            original_tokens INTEGER NOT NULL,
            compacted_tokens INTEGER NOT NULL,
            compression_ratio REAL NOT NULL,
            algorithm_version TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        "CREATE UNIQUE INDEX conversation_compactions_range ON conversation_compactions("
        "conversation_id, from_message_index, to_message_index, algorithm_version)",
        """CREATE TABLE notebooks (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            description TEXT,
            pinned INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}'
        )""",
        """CREATE TABLE notebook_entries (
            id TEXT PRIMARY KEY,
            notebook_id TEXT NOT NULL REFERENCES notebooks(id) ON DELETE CASCADE,
            entry_type TEXT NOT NULL CHECK (entry_type IN ('unit', 'memory', 'note')),
            unit_id TEXT REFERENCES atomic_chat_units(id) ON DELETE CASCADE,
            memory_id TEXT REFERENCES memories(id) ON DELETE CASCADE,
            note TEXT,
            position INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            CHECK ((entry_type = 'unit' AND unit_id IS NOT NULL)
                OR (entry_type = 'memory' AND memory_id IS NOT NULL)
                OR (entry_type = 'note' AND note IS NOT NULL))
        )""",
        "CREATE INDEX notebook_entries_position ON notebook_entries(notebook_id, position)",
    ],
)

# --- 0005: devices' view of the vault: presence and the sync log ------------------------
_M0005 = Migration(
    "0005_sync_and_presence",
    [
        """CREATE TABLE client_presence (
            device_id TEXT PRIMARY KEY,
            status TEXT NOT NULL DEFAULT 'online',
            active_conversation_id TEXT REFERENCES conversations(id) ON DELETE SET NULL,
            visible_items TEXT NOT NULL DEFAULT '[]',
            last_seen_at TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}'
        )""",
        # seq orders the local log; hlc orders operations across devices.
        """CREATE TABLE sync_operations (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            op_id TEXT NOT NULL UNIQUE,
            hlc TEXT NOT NULL,
            device_id TEXT NOT NULL,
            table_name TEXT NOT NULL,
            record_id TEXT NOT NULL,
            operation TEXT NOT NULL CHECK (operation IN ('insert', 'update', 'delete')),
            payload TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX sync_operations_record ON sync_operations(table_name, record_id, hlc)",
        "CREATE INDEX sync_operations_hlc ON sync_operations(hlc)",
        """CREATE TABLE sync_cursors (
            device_id TEXT NOT NULL,
            remote TEXT NOT NULL DEFAULT '',
            table_name TEXT NOT NULL DEFAULT '*',
            last_seq INTEGER NOT NULL DEFAULT 0,
            last_hlc TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (device_id, remote, table_name)
        ) WITHOUT ROWID""",
    ],
)

# --- 0006: which input files were fully imported, so an unchanged re-import is a no-op ---
_M0006 = Migration(
    "0006_import_sources",
    [
        # fingerprint = hash of the file's bytes, its format and the capture version. The
        # conversations it produced (id, content hash) let a re-import check in one query
        # that nothing it wrote has since changed or been deleted before skipping it.
        """CREATE TABLE import_sources (
            fingerprint TEXT PRIMARY KEY,
            source_name TEXT NOT NULL,
            format TEXT NOT NULL,
            size_bytes INTEGER NOT NULL,
            conversations TEXT NOT NULL DEFAULT '[]',
            imported_at TEXT NOT NULL
        ) WITHOUT ROWID""",
    ],
)

# --- 0007: search over units -----------------------------------------------------------
_M0007 = Migration(
    "0007_unit_search",
    [
        # Which conversations have had their units extracted, and from what: a conversation
        # whose content hash or extractor version differs is extracted again.
        "ALTER TABLE conversations ADD COLUMN units_state TEXT",
        # Kept on the unit so search can filter, order and boost without a join per hit:
        # the message's role and author (the speaker), and the unit's place in its message.
        "ALTER TABLE atomic_chat_units ADD COLUMN role TEXT",
        "ALTER TABLE atomic_chat_units ADD COLUMN author TEXT",
        "ALTER TABLE atomic_chat_units ADD COLUMN position INTEGER NOT NULL DEFAULT 0",
        # What the full-text index holds for the unit (its text plus captions), kept so the
        # entry can be removed from the contentless index and the vector recomputed.
        "ALTER TABLE atomic_chat_units ADD COLUMN index_text TEXT",
        "CREATE INDEX acu_unembedded ON atomic_chat_units(conversation_id) WHERE embedding IS NULL",
        "CREATE INDEX acu_reading_order ON atomic_chat_units(conversation_id, message_index, position)",
        # FTS rowids must be stable, and a rowid table's implicit rowid is not (VACUUM may
        # renumber it), so units get their own integer handle for the full-text index.
        """CREATE TABLE unit_search_rows (
            rowid INTEGER PRIMARY KEY,
            unit_id TEXT NOT NULL UNIQUE REFERENCES atomic_chat_units(id) ON DELETE CASCADE
        )""",
        # Two columns: the unit's own text, and its date written out ("7 July 2023") so
        # questions that name a month or year match it as words. Contentless: the text is
        # already in atomic_chat_units.
        """CREATE VIRTUAL TABLE unit_fts USING fts5(
            own,
            date,
            content='',
            tokenize='porter unicode61 remove_diacritics 2'
        )""",
        # The ranking (BM25, the date column at half weight) is configured once, so a query
        # orders by `rank` without computing bm25() a second time per matching row.
        "INSERT INTO unit_fts (unit_fts, rank) VALUES ('rank', 'bm25(1.0, 0.5)')",
    ],
)

# --- 0008: memories: provenance of merged duplicates, what the user deleted, search -------
_M0008 = Migration(
    "0008_memory_extraction_and_search",
    [
        # Which conversations have had memories extracted, and by which extractor version:
        # `vivim index` extracts only from conversations that are new or changed since.
        "ALTER TABLE conversations ADD COLUMN memories_state TEXT",
        # Every message a memory was seen in. A duplicate statement merges into the memory
        # it repeats and adds a row here, so each memory stays traceable to all its sources
        # while memories.source_* keep the first one.
        """CREATE TABLE memory_sources (
            memory_id TEXT NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
            message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            conversation_id TEXT REFERENCES conversations(id) ON DELETE CASCADE,
            unit_id TEXT REFERENCES atomic_chat_units(id) ON DELETE SET NULL,
            excerpt TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            PRIMARY KEY (memory_id, message_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX memory_sources_message ON memory_sources(message_id)",
        # Normalised-statement hashes of extracted memories the user deleted, so a later
        # extraction does not bring them back.
        """CREATE TABLE memory_suppressions (
            content_hash TEXT PRIMARY KEY,
            created_at TEXT NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX memories_source_message ON memories(source_message_id)",
        "CREATE INDEX memories_pinned_archived ON memories(archived, pinned DESC, importance DESC)",
        # Full text over memories. It holds its own copy of the (short) text keyed by the
        # memory id, kept in step by triggers so every writer (CLI, API, sync) is covered.
        """CREATE VIRTUAL TABLE memory_fts USING fts5(
            memory_id UNINDEXED,
            content,
            summary,
            tokenize='porter unicode61 remove_diacritics 2'
        )""",
        """CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
            INSERT INTO memory_fts (memory_id, content, summary)
            VALUES (new.id, new.content, COALESCE(new.summary, ''));
        END""",
        """CREATE TRIGGER memories_fts_update AFTER UPDATE OF content, summary ON memories BEGIN
            DELETE FROM memory_fts WHERE memory_id = old.id;
            INSERT INTO memory_fts (memory_id, content, summary)
            VALUES (new.id, new.content, COALESCE(new.summary, ''));
        END""",
        """CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
            DELETE FROM memory_fts WHERE memory_id = old.id;
        END""",
        # Memories written before this migration.
        "INSERT INTO memory_fts (memory_id, content, summary) SELECT id, content, COALESCE(summary, '') FROM memories",
    ],
)

# --- 0009: the sync operation log, captured by triggers ----------------------------------
@dataclass(frozen=True)
class SyncedTable:
    """A user-DB table whose rows travel between a user's devices (docs/SYNC.md)."""

    name: str
    key: tuple[str, ...] = ("id",)
    derived: tuple[str, ...] = ()
    """Columns recomputed on each device: neither logged when they change nor shipped."""
    columns: tuple[str, ...] = ()
    """For tables with derived columns, every other column: an update of only derived
    columns is not a change worth syncing (``AFTER UPDATE OF`` these)."""


_EMBEDDING = ("embedding", "embedding_model", "embedding_dim")

# Everything a user owns or decided. Not here, and why: vault_meta and schema_migrations
# (this file's own bookkeeping), import_sources (which files this device imported),
# unit_search_rows and the FTS tables (indexes rebuilt from the rows they index),
# context_bundles (a cache), client_presence (per device, exchanged by its own route) and
# the sync tables themselves.
SYNCED_TABLES: tuple[SyncedTable, ...] = (
    SyncedTable(
        "conversations",
        derived=("units_state", "memories_state"),
        columns=(
            "id", "provider", "source_id", "source_url", "content_hash", "version", "title", "model",
            "created_at", "updated_at", "captured_at", "message_count", "user_message_count",
            "ai_message_count", "total_words", "total_characters", "total_tokens", "total_code_blocks",
            "total_images", "total_tables", "total_latex_blocks", "total_mermaid_diagrams",
            "total_tool_calls", "metadata",
        ),
    ),
    SyncedTable("messages"),
    SyncedTable(
        "atomic_chat_units",
        derived=(*_EMBEDDING, "indexed_at"),
        columns=(
            "id", "author_did", "signature", "content", "content_hash", "version", "language", "type",
            "category", "conversation_id", "message_id", "message_index", "parent_id", "provider", "model",
            "source_timestamp", "extractor_version", "parser_version", "quality_overall", "content_richness",
            "structural_integrity", "uniqueness", "view_count", "share_count", "quote_count",
            "rediscovery_score", "sharing_policy", "sharing_circles", "can_view", "can_annotate", "can_remix",
            "can_reshare", "expires_at", "created_at", "metadata", "tags", "role", "author", "position",
            "index_text",
        ),
    ),
    SyncedTable("acu_links"),
    SyncedTable(
        "memories",
        # Reading a memory bumps its access counters; a read on one device is not an edit.
        derived=(*_EMBEDDING, "access_count", "last_accessed_at"),
        columns=(
            "id", "content", "summary", "memory_type", "category", "content_hash", "extracted_entities",
            "topics", "importance", "pinned", "archived", "source_conversation_id", "source_message_id",
            "source_unit_id", "created_at", "updated_at", "metadata",
        ),
    ),
    SyncedTable("memory_sources", key=("memory_id", "message_id")),
    SyncedTable("memory_suppressions", key=("content_hash",)),
    SyncedTable("user_facts"),
    SyncedTable(
        "topic_profiles",
        derived=("embedding", "embedding_model"),
        columns=(
            "id", "slug", "label", "keyphrases", "description", "first_engaged_at", "last_engaged_at",
            "conversation_count", "message_count", "unit_count", "importance", "is_dirty", "created_at",
            "updated_at", "metadata",
        ),
    ),
    SyncedTable("entity_profiles"),
    SyncedTable("topic_conversations", key=("topic_id", "conversation_id")),
    SyncedTable("ai_personas"),
    SyncedTable("custom_instructions"),
    SyncedTable("user_context_settings"),
    SyncedTable("conversation_compactions"),
    SyncedTable("notebooks"),
    SyncedTable("notebook_entries"),
)


def _record_key(table: SyncedTable, row: str) -> str:
    # One key column: its value (as text). Several: a JSON array, unambiguous whatever
    # the values contain.
    if len(table.key) == 1:
        return f"{row}.{table.key[0]}"
    return "json_array(" + ", ".join(f"{row}.{c}" for c in table.key) + ")"


def sync_capture_statements(table: SyncedTable) -> list[str]:
    """The three triggers that log every write to ``table`` into ``sync_operations``.

    A trigger appends (table, record, operation) only: no payload, no clock. The clock is
    stamped once per transaction at commit (vivim.store.user.oplog.stamp) and the row itself is
    read when an operation is sent, so a bulk import pays one small append per row.
    """
    t, new, old = table.name, _record_key(table, "NEW"), _record_key(table, "OLD")
    log = "INSERT INTO sync_operations (table_name, record_id, operation)"
    of = f" OF {', '.join(table.columns)}" if table.derived else ""
    # While a merge applies other devices' operations it logs them itself, with their own
    # clocks; it pauses the triggers inside its transaction, invisible to everyone else.
    when = "WHEN NOT EXISTS (SELECT 1 FROM sync_pause)"
    return [
        f"CREATE TRIGGER sync_{t}_insert AFTER INSERT ON {t} {when} BEGIN {log} VALUES ('{t}', {new}, 'insert'); END",
        # A changed key is the old record deleted and a new one written.
        f"CREATE TRIGGER sync_{t}_update AFTER UPDATE{of} ON {t} {when} BEGIN"
        f" {log} SELECT '{t}', {old}, 'delete' WHERE {old} IS NOT {new};"
        f" {log} VALUES ('{t}', {new}, 'update'); END",
        f"CREATE TRIGGER sync_{t}_delete AFTER DELETE ON {t} {when} BEGIN {log} VALUES ('{t}', {old}, 'delete'); END",
    ]


_M0009 = Migration(
    "0009_sync_operation_log",
    [
        # The seed's shape (a unique op id, a payload, two indexes per operation) cost a bulk
        # import more than the import itself; nothing had written it yet. Now it is an
        # append-only queue of what changed: seq orders it, hlc/device_id are filled in at
        # commit (or by the merge, for operations from another device), source names the
        # peer an operation was received from (NULL: made here).
        "DROP TABLE sync_operations",
        """CREATE TABLE sync_operations (
            seq INTEGER PRIMARY KEY,
            table_name TEXT NOT NULL,
            record_id TEXT NOT NULL,
            operation TEXT NOT NULL CHECK (operation IN ('insert', 'update', 'delete')),
            hlc TEXT,
            device_id TEXT,
            source TEXT
        )""",
        # The latest operation of each record: what the merge compares against and what a
        # pull sends (the latest state is all last-writer-wins needs). Folded in from the
        # queue in sorted batches when a sync runs, so imports never pay for this index.
        # A delete stays here as the record's tombstone.
        """CREATE TABLE sync_versions (
            table_name TEXT NOT NULL,
            record_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            operation TEXT NOT NULL,
            hlc TEXT NOT NULL,
            device_id TEXT NOT NULL,
            source TEXT,
            PRIMARY KEY (table_name, record_id)
        ) WITHOUT ROWID""",
        "CREATE UNIQUE INDEX sync_versions_seq ON sync_versions(seq)",
        # What a merge overwrote or refused, so a user can see it (`vivim sync conflicts`).
        """CREATE TABLE sync_conflicts (
            id INTEGER PRIMARY KEY,
            table_name TEXT NOT NULL,
            record_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('overwritten', 'discarded', 'rejected', 'duplicate_key')),
            winner_hlc TEXT,
            winner_device TEXT,
            loser_hlc TEXT,
            loser_device TEXT,
            loser_operation TEXT,
            loser_payload TEXT,
            peer TEXT,
            detail TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX sync_conflicts_created ON sync_conflicts(created_at DESC)",
        # Empty except inside a merge's own transaction (see sync_capture_statements).
        "CREATE TABLE sync_pause (reason TEXT NOT NULL)",
        "ALTER TABLE client_presence ADD COLUMN bundle_id TEXT",
        *[s for table in SYNCED_TABLES for s in sync_capture_statements(table)],
        # Rows written before this migration become operations of this device, so a vault
        # that existed before sync sends everything on its first sync.
        *[
            f"INSERT INTO sync_operations (table_name, record_id, operation)"
            f" SELECT '{t.name}', {_record_key(t, t.name)}, 'insert' FROM {t.name}"
            for t in SYNCED_TABLES
        ],
    ],
)

# --- 0010: two message indexes fewer --------------------------------------------------
_M0010 = Migration(
    "0010_leaner_message_indexes",
    [
        # Every message insert paid for six B-trees. No query reads messages by
        # (conversation, created_at): conversations are read in message_index order. The
        # one query by role over all conversations looks for system messages (custom
        # instructions), which a partial index finds at a fraction of the cost.
        # docs/PERFORMANCE.md (issue 3) has the measurements.
        "DROP INDEX IF EXISTS messages_conversation_created",
        "DROP INDEX IF EXISTS messages_role",
        "CREATE INDEX messages_system ON messages(conversation_id) WHERE role = 'system'",
    ],
)

MIGRATIONS: tuple[Migration, ...] = (
    _M0001, _M0002, _M0003, _M0004, _M0005, _M0006, _M0007, _M0008, _M0009, _M0010,
)
HEAD = len(MIGRATIONS)

# The USER models of seed 000 and the table each lives in. Tests check this against the seed.
SEED_MODEL_TABLES: dict[str, str] = {
    "Conversation": "conversations",
    "Message": "messages",
    "AtomicChatUnit": "atomic_chat_units",
    "AcuLink": "acu_links",
    "TopicProfile": "topic_profiles",
    "EntityProfile": "entity_profiles",
    "ContextBundle": "context_bundles",
    "TopicConversation": "topic_conversations",
    "Memory": "memories",
    "Notebook": "notebooks",
    "NotebookEntry": "notebook_entries",
    "AiPersona": "ai_personas",
    "CustomInstruction": "custom_instructions",
    "ClientPresence": "client_presence",
    "SyncCursor": "sync_cursors",
    "SyncOperation": "sync_operations",
    "UserFact": "user_facts",
    "UserContextSettings": "user_context_settings",
    "ConversationCompaction": "conversation_compactions",
}
