"""Request and response bodies for memories, facts, profiles, instructions, personas and notebooks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MemoryType = Literal[
    "EPISODIC", "SEMANTIC", "PROCEDURAL", "FACTUAL", "PREFERENCE", "IDENTITY", "RELATIONSHIP", "GOAL", "PROJECT",
    "CUSTOM",
]
Scope = Literal["global", "topic", "conversation", "persona"]


class _Out(BaseModel):
    # Rows gain columns as features grow; unknown ones pass through.
    model_config = ConfigDict(extra="allow")


# --- memories --------------------------------------------------------------------------------------
class MemoryCreate(BaseModel):
    content: str = Field(min_length=1, max_length=10_000)
    summary: str | None = Field(default=None, max_length=2000)
    memory_type: MemoryType = "SEMANTIC"
    category: str | None = Field(default=None, max_length=100)
    importance: int = Field(default=5, ge=0, le=10)
    pinned: bool = False


class MemoryUpdate(BaseModel):
    content: str | None = Field(default=None, min_length=1, max_length=10_000)
    summary: str | None = Field(default=None, max_length=2000)
    memory_type: MemoryType | None = None
    category: str | None = Field(default=None, max_length=100)
    importance: int | None = Field(default=None, ge=0, le=10)
    pinned: bool | None = None
    archived: bool | None = None


class MemorySource(_Out):
    conversation_id: str | None
    message_id: str
    unit_id: str | None
    excerpt: str
    conversation_title: str | None
    message_source_id: str | None


class MemoryOut(_Out):
    id: str
    content: str
    summary: str | None
    memory_type: str
    category: str | None
    importance: int
    access_count: int
    last_accessed_at: str | None
    pinned: bool
    archived: bool
    source_conversation_id: str | None
    source_message_id: str | None
    source_unit_id: str | None
    created_at: str
    updated_at: str
    metadata: dict[str, Any]
    topics: list[Any]


class MemoryDetail(MemoryOut):
    sources: list[MemorySource] = []
    merged: bool | None = None


class MemoryList(BaseModel):
    items: list[MemoryOut]
    next_cursor: str | None


class MemoryHit(MemoryOut):
    score: float


class MemorySearch(BaseModel):
    query: str
    hits: list[MemoryHit]


class ExtractOut(_Out):
    conversations: int
    messages: int
    memories_added: int
    memories_merged: int
    facts_added: int
    embedded: int
    instructions_added: int
    errors: list[str]


class Deleted(BaseModel):
    deleted: str


# --- facts -----------------------------------------------------------------------------------------
class FactCreate(BaseModel):
    content: str = Field(min_length=1, max_length=1000)
    category: str = Field(default="general", min_length=1, max_length=100)
    importance: int = Field(default=7, ge=0, le=10)
    pinned: bool = False
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)


class FactUpdate(BaseModel):
    content: str | None = Field(default=None, min_length=1, max_length=1000)
    category: str | None = Field(default=None, min_length=1, max_length=100)
    importance: int | None = Field(default=None, ge=0, le=10)
    pinned: bool | None = None
    archived: bool | None = None
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)


class FactOut(_Out):
    id: str
    category: str
    content: str
    confidence: float
    importance: int
    pinned: bool
    archived: bool
    source_conversation_id: str | None
    source_message_id: str | None
    created_at: str
    updated_at: str


class FactList(BaseModel):
    items: list[FactOut]


# --- profiles --------------------------------------------------------------------------------------
class TopicConversationOut(BaseModel):
    conversation_id: str
    title: str | None
    relevance: float
    created_at: str | None


class TopicOut(_Out):
    id: str
    slug: str
    label: str
    keyphrases: list[str]
    description: str | None
    first_engaged_at: str | None
    last_engaged_at: str | None
    conversation_count: int
    message_count: int
    unit_count: int
    importance: float
    is_dirty: bool


class TopicDetail(TopicOut):
    conversations: list[TopicConversationOut]


class TopicList(BaseModel):
    items: list[TopicOut]
    rebuilt: dict[str, Any] | None


class EntityOut(_Out):
    id: str
    name: str
    normalized_name: str
    entity_type: str
    aliases: list[str]
    description: str | None
    first_seen_at: str | None
    last_seen_at: str | None
    mention_count: int
    conversation_count: int
    importance: float
    is_dirty: bool


class EntityList(BaseModel):
    items: list[EntityOut]
    rebuilt: dict[str, Any] | None


class ProfilesRebuilt(BaseModel):
    topics: int
    entities: int
    links: int
    conversations: int


# --- instructions and personas ----------------------------------------------------------------------
class InstructionCreate(BaseModel):
    content: str = Field(min_length=1, max_length=8000)
    scope: Scope = "global"
    topic_tags: list[str] = Field(default_factory=list, max_length=50)
    priority: int = Field(default=0, ge=-1000, le=1000)
    is_active: bool = True
    persona: str | None = Field(default=None, max_length=100, description="Persona name or id (scope persona).")


class InstructionUpdate(BaseModel):
    content: str | None = Field(default=None, min_length=1, max_length=8000)
    scope: Scope | None = None
    topic_tags: list[str] | None = Field(default=None, max_length=50)
    priority: int | None = Field(default=None, ge=-1000, le=1000)
    is_active: bool | None = None


class InstructionOut(_Out):
    id: str
    content: str
    scope: str
    topic_tags: list[str]
    priority: int
    is_active: bool
    source: str
    source_conversation_id: str | None
    persona_id: str | None
    created_at: str
    updated_at: str


class InstructionList(BaseModel):
    items: list[InstructionOut]


class Landed(BaseModel):
    added: int


class PersonaCreate(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    system_prompt: str = Field(min_length=1, max_length=20_000)
    description: str | None = Field(default=None, max_length=2000)
    triggers: list[str] = Field(default_factory=list, max_length=50)
    is_active: bool = True
    is_default: bool = False


class PersonaUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=80)
    system_prompt: str | None = Field(default=None, min_length=1, max_length=20_000)
    description: str | None = Field(default=None, max_length=2000)
    triggers: list[str] | None = Field(default=None, max_length=50)
    is_active: bool | None = None
    is_default: bool | None = None


class PersonaOut(_Out):
    id: str
    name: str
    description: str | None
    system_prompt: str
    triggers: list[str]
    is_active: bool
    is_default: bool
    created_at: str
    updated_at: str


class PersonaList(BaseModel):
    items: list[PersonaOut]


# --- notebooks -------------------------------------------------------------------------------------
class NotebookCreate(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    pinned: bool = False


class NotebookUpdate(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    pinned: bool | None = None


class EntryCreate(BaseModel):
    unit_id: str | None = Field(default=None, max_length=64)
    memory_id: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, min_length=1, max_length=20_000)
    position: int | None = Field(default=None, ge=0)


class EntryUpdate(BaseModel):
    note: str | None = Field(default=None, min_length=1, max_length=20_000)
    position: int | None = Field(default=None, ge=0)


class EntryOut(_Out):
    id: str
    entry_type: str
    unit_id: str | None
    memory_id: str | None
    note: str | None
    position: int
    text: str | None
    created_at: str
    updated_at: str


class NotebookOut(_Out):
    id: str
    title: str
    description: str | None
    pinned: bool
    entry_count: int
    created_at: str
    updated_at: str


class NotebookDetail(NotebookOut):
    entries: list[EntryOut]


class NotebookList(BaseModel):
    items: list[NotebookOut]
