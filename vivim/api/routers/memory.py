"""Memories, facts, profiles, custom instructions, personas and notebooks of the signed-in user.

Every route reads and writes only the authenticated user's own vault (``Store``), so an id
that belongs to someone else is simply not there: 404, never 403.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from vivim.api.deps import Store, VivimDep
from vivim.api.errors import AUTHENTICATED, error_responses
from vivim.api.pagination import CursorParam, Limit, decode_cursor, encode_cursor
from vivim.api.schemas.memory_schemas import (
    Deleted,
    EntityList,
    EntityOut,
    EntryCreate,
    EntryOut,
    EntryUpdate,
    ExtractOut,
    FactCreate,
    FactList,
    FactOut,
    FactUpdate,
    InstructionCreate,
    InstructionList,
    InstructionOut,
    InstructionUpdate,
    Landed,
    MemoryCreate,
    MemoryDetail,
    MemoryList,
    MemorySearch,
    MemoryUpdate,
    NotebookCreate,
    NotebookDetail,
    NotebookList,
    NotebookUpdate,
    PersonaCreate,
    PersonaList,
    PersonaOut,
    PersonaUpdate,
    ProfilesRebuilt,
    TopicDetail,
    TopicList,
)
from vivim.memory import facts as fact_ops
from vivim.memory import instructions as instr_ops
from vivim.memory import memories as memory_ops
from vivim.memory import notebooks as nb_ops
from vivim.memory import profiles as profile_ops
from vivim.memory.pipeline import extract_memories

router = APIRouter(responses={**AUTHENTICATED, **error_responses(404, 409)})
Id = Annotated[str, Path(max_length=64)]
Ref = Annotated[str, Path(max_length=200)]
MAX_OFFSET = 100_000


# --- memories --------------------------------------------------------------------------------------
@router.get("/memories", response_model=MemoryList, tags=["memories"], summary="Memories, pinned and important first")
def list_memories(
    store: Store,
    memory_type: Annotated[str | None, Query(max_length=20, description="Only this type.")] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    pinned: Annotated[bool | None, Query(description="Only pinned (true) or unpinned (false).")] = None,
    archived: Annotated[bool | None, Query(description="Archived (true), active (false, default) or all (omit with all=true).")] = False,
    all: Annotated[bool, Query(description="Both archived and active memories.")] = False,
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> dict[str, Any]:
    values = decode_cursor(cursor, "memories", 1)
    offset = min(MAX_OFFSET, max(0, int(values[0]))) if values else 0
    rows = memory_ops.list_memories(store, memory_type=memory_type, category=category, pinned=pinned,
                                    archived=None if all else archived, limit=limit + 1, offset=offset)
    next_cursor = encode_cursor("memories", [offset + limit]) if len(rows) > limit else None
    return {"items": rows[:limit], "next_cursor": next_cursor}


@router.post("/memories", response_model=MemoryDetail, status_code=201, tags=["memories"],
             summary="Remember something (a repeat is merged into the existing memory)")
def create_memory(body: MemoryCreate, store: Store) -> dict[str, Any]:
    return memory_ops.create_memory(store, body.content, summary=body.summary, memory_type=body.memory_type,
                                    category=body.category, importance=body.importance, pinned=body.pinned)


@router.get("/memories/search", response_model=MemorySearch, tags=["memories"],
            summary="Search memories by words and meaning")
def search_memories(
    v: VivimDep,
    store: Store,
    q: Annotated[str, Query(min_length=1, max_length=1000, description="What to look for.")],
    limit: Annotated[int, Query(ge=1, le=200)] = 10,
    memory_type: Annotated[str | None, Query(max_length=20)] = None,
    include_archived: bool = False,
    vectors: Annotated[bool, Query(description="Also match by meaning with the local model.")] = True,
) -> dict[str, Any]:
    embedder = v.embedder if vectors else None
    if embedder is not None:
        memory_ops.embed_missing(store, embedder)
    hits = memory_ops.search_memories(store, q, embedder=embedder, limit=limit, memory_type=memory_type,
                                      include_archived=include_archived)
    return {"query": q, "hits": hits}


@router.post("/memories/extract", response_model=ExtractOut, tags=["memories"],
             summary="Extract memories from conversations new since the last extraction")
def extract(v: VivimDep, store: Store, rescan: bool = False, embed: bool = True) -> dict[str, Any]:
    report = extract_memories(store, embedder=v.embedder if embed else None, rescan=rescan)
    return {**report.to_json(), "instructions_added": instr_ops.land_export_instructions(store)}


@router.get("/memories/{memory_id}", response_model=MemoryDetail, tags=["memories"],
            summary="A memory with its sources")
def get_memory(memory_id: Id, store: Store) -> dict[str, Any]:
    return memory_ops.get_memory(store, memory_id, touch=True)


@router.patch("/memories/{memory_id}", response_model=MemoryDetail, tags=["memories"],
              summary="Edit, pin, unpin, archive or unarchive a memory")
def update_memory(memory_id: Id, body: MemoryUpdate, store: Store) -> dict[str, Any]:
    return memory_ops.update_memory(store, memory_id, **body.model_dump(exclude_unset=True))


@router.delete("/memories/{memory_id}", response_model=Deleted, tags=["memories"], summary="Delete a memory")
def delete_memory(memory_id: Id, store: Store) -> dict[str, Any]:
    return {"deleted": memory_ops.delete_memory(store, memory_id)}


# --- facts -----------------------------------------------------------------------------------------
@router.get("/facts", response_model=FactList, tags=["facts"], summary="Facts about the user")
def list_facts(
    store: Store, category: Annotated[str | None, Query(max_length=100)] = None, all: bool = False
) -> dict[str, Any]:
    return {"items": fact_ops.list_facts(store, category=category, archived=None if all else False, limit=1000)}


@router.post("/facts", response_model=FactOut, status_code=201, tags=["facts"], summary="Add a fact")
def add_fact(body: FactCreate, store: Store) -> dict[str, Any]:
    return fact_ops.add_fact(store, body.content, category=body.category, importance=body.importance,
                             pinned=body.pinned, confidence=body.confidence)


@router.get("/facts/{fact_id}", response_model=FactOut, tags=["facts"], summary="A fact")
def get_fact(fact_id: Id, store: Store) -> dict[str, Any]:
    return fact_ops.get_fact(store, fact_id)


@router.patch("/facts/{fact_id}", response_model=FactOut, tags=["facts"], summary="Edit a fact")
def update_fact(fact_id: Id, body: FactUpdate, store: Store) -> dict[str, Any]:
    return fact_ops.update_fact(store, fact_id, **body.model_dump(exclude_unset=True))


@router.delete("/facts/{fact_id}", response_model=Deleted, tags=["facts"], summary="Delete a fact")
def delete_fact(fact_id: Id, store: Store) -> dict[str, Any]:
    return {"deleted": fact_ops.delete_fact(store, fact_id)}


# --- profiles --------------------------------------------------------------------------------------
def _built(store: Any, rebuild: bool) -> dict[str, Any] | None:
    if rebuild:
        return profile_ops.rebuild_profiles(store).to_json()
    report = profile_ops.ensure_profiles(store)
    return report.to_json() if report else None


@router.get("/profiles/topics", response_model=TopicList, tags=["profiles"],
            summary="Topics (rebuilt first when new data arrived)")
def list_topics(store: Store, rebuild: bool = False, limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> dict[str, Any]:
    built = _built(store, rebuild)
    return {"items": profile_ops.list_topics(store, limit=limit), "rebuilt": built}


@router.get("/profiles/topics/{ref}", response_model=TopicDetail, tags=["profiles"],
            summary="A topic with its conversations")
def get_topic(ref: Ref, store: Store) -> dict[str, Any]:
    return profile_ops.get_topic(store, ref)


@router.get("/profiles/entities", response_model=EntityList, tags=["profiles"],
            summary="People, pets, projects, places and tools")
def list_entities(
    store: Store,
    rebuild: bool = False,
    entity_type: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    built = _built(store, rebuild)
    return {"items": profile_ops.list_entities(store, entity_type=entity_type, limit=limit), "rebuilt": built}


@router.get("/profiles/entities/{ref}", response_model=EntityOut, tags=["profiles"], summary="An entity")
def get_entity(ref: Ref, store: Store) -> dict[str, Any]:
    return profile_ops.get_entity(store, ref)


@router.post("/profiles/rebuild", response_model=ProfilesRebuilt, tags=["profiles"],
             summary="Recompute every topic and entity now")
def rebuild(store: Store) -> dict[str, Any]:
    return profile_ops.rebuild_profiles(store).to_json()


# --- instructions ----------------------------------------------------------------------------------
@router.get("/instructions", response_model=InstructionList, tags=["instructions"],
            summary="Custom instructions, highest priority first")
def list_instructions(
    store: Store, active: bool | None = None, scope: Annotated[str | None, Query(max_length=20)] = None
) -> dict[str, Any]:
    return {"items": instr_ops.list_instructions(store, active=active, scope=scope)}


@router.post("/instructions", response_model=InstructionOut, status_code=201, tags=["instructions"],
             summary="Add a custom instruction")
def add_instruction(body: InstructionCreate, store: Store) -> dict[str, Any]:
    return instr_ops.add_instruction(store, body.content, scope=body.scope, topic_tags=body.topic_tags,
                                     priority=body.priority, active=body.is_active, persona=body.persona)


@router.post("/instructions/import", response_model=Landed, tags=["instructions"],
             summary="Add custom instructions found in stored exports (ChatGPT user_editable_context)")
def import_instructions(store: Store) -> dict[str, Any]:
    return {"added": instr_ops.land_export_instructions(store)}


@router.get("/instructions/{instruction_id}", response_model=InstructionOut, tags=["instructions"],
            summary="A custom instruction")
def get_instruction(instruction_id: Id, store: Store) -> dict[str, Any]:
    return instr_ops.get_instruction(store, instruction_id)


@router.patch("/instructions/{instruction_id}", response_model=InstructionOut, tags=["instructions"],
              summary="Edit a custom instruction")
def update_instruction(instruction_id: Id, body: InstructionUpdate, store: Store) -> dict[str, Any]:
    fields = body.model_dump(exclude_unset=True)
    if "is_active" in fields:
        fields["active"] = fields.pop("is_active")
    return instr_ops.update_instruction(store, instruction_id, **fields)


@router.delete("/instructions/{instruction_id}", response_model=Deleted, tags=["instructions"],
               summary="Delete a custom instruction")
def delete_instruction(instruction_id: Id, store: Store) -> dict[str, Any]:
    return {"deleted": instr_ops.delete_instruction(store, instruction_id)}


# --- personas --------------------------------------------------------------------------------------
@router.get("/personas", response_model=PersonaList, tags=["personas"], summary="AI personas")
def list_personas(store: Store, active: bool | None = None) -> dict[str, Any]:
    return {"items": instr_ops.list_personas(store, active=active)}


@router.post("/personas", response_model=PersonaOut, status_code=201, tags=["personas"], summary="Add a persona")
def add_persona(body: PersonaCreate, store: Store) -> dict[str, Any]:
    return instr_ops.add_persona(store, body.name, body.system_prompt, description=body.description,
                                 triggers=body.triggers, active=body.is_active, default=body.is_default)


@router.get("/personas/{persona}", response_model=PersonaOut, tags=["personas"], summary="A persona (name or id)")
def get_persona(persona: Ref, store: Store) -> dict[str, Any]:
    return instr_ops.get_persona(store, persona)


@router.patch("/personas/{persona}", response_model=PersonaOut, tags=["personas"], summary="Edit a persona")
def update_persona(persona: Ref, body: PersonaUpdate, store: Store) -> dict[str, Any]:
    fields = body.model_dump(exclude_unset=True)
    renames = {"is_active": "active", "is_default": "default"}
    return instr_ops.update_persona(store, persona, **{renames.get(k, k): v for k, v in fields.items()})


@router.delete("/personas/{persona}", response_model=Deleted, tags=["personas"], summary="Delete a persona")
def delete_persona(persona: Ref, store: Store) -> dict[str, Any]:
    return {"deleted": instr_ops.delete_persona(store, persona)}


# --- notebooks -------------------------------------------------------------------------------------
@router.get("/notebooks", response_model=NotebookList, tags=["notebooks"], summary="Notebooks")
def list_notebooks(store: Store) -> dict[str, Any]:
    return {"items": nb_ops.list_notebooks(store)}


@router.post("/notebooks", response_model=NotebookDetail, status_code=201, tags=["notebooks"],
             summary="Create a notebook")
def create_notebook(body: NotebookCreate, store: Store) -> dict[str, Any]:
    return nb_ops.create_notebook(store, body.title, description=body.description, pinned=body.pinned)


@router.get("/notebooks/{notebook_id}", response_model=NotebookDetail, tags=["notebooks"],
            summary="A notebook with its entries")
def get_notebook(notebook_id: Id, store: Store) -> dict[str, Any]:
    return nb_ops.get_notebook(store, notebook_id)


@router.patch("/notebooks/{notebook_id}", response_model=NotebookDetail, tags=["notebooks"],
              summary="Rename, describe, pin or unpin a notebook")
def update_notebook(notebook_id: Id, body: NotebookUpdate, store: Store) -> dict[str, Any]:
    return nb_ops.update_notebook(store, notebook_id, **body.model_dump(exclude_unset=True))


@router.delete("/notebooks/{notebook_id}", response_model=Deleted, tags=["notebooks"],
               summary="Delete a notebook (its units and memories stay)")
def delete_notebook(notebook_id: Id, store: Store) -> dict[str, Any]:
    return {"deleted": nb_ops.delete_notebook(store, notebook_id)}


@router.post("/notebooks/{notebook_id}/entries", response_model=EntryOut, status_code=201, tags=["notebooks"],
             summary="Add a unit, a memory or a note")
def add_entry(notebook_id: Id, body: EntryCreate, store: Store) -> dict[str, Any]:
    return nb_ops.add_entry(store, notebook_id, unit_id=body.unit_id, memory_id=body.memory_id, note=body.note,
                            position=body.position)


@router.patch("/notebooks/{notebook_id}/entries/{entry_id}", response_model=EntryOut, tags=["notebooks"],
              summary="Edit a note entry or move an entry")
def update_entry(notebook_id: Id, entry_id: Id, body: EntryUpdate, store: Store) -> dict[str, Any]:
    return nb_ops.update_entry(store, notebook_id, entry_id, note=body.note, position=body.position)


@router.delete("/notebooks/{notebook_id}/entries/{entry_id}", response_model=Deleted, tags=["notebooks"],
               summary="Remove an entry (the unit or memory itself stays)")
def remove_entry(notebook_id: Id, entry_id: Id, store: Store) -> dict[str, Any]:
    return {"deleted": nb_ops.remove_entry(store, notebook_id, entry_id)}
