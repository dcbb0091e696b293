"""Memories, facts, profiles, instructions, personas and notebooks: what vivim knows about
its user, kept locally and built without any LLM.

Modules and their public functions (each takes a ``UserStore``; see each module's docstring):

- ``vivim.memory.memories``: ``create_memory``, ``get_memory``, ``list_memories``,
  ``update_memory``, ``delete_memory``, ``search_memories``, ``record_access``,
  ``embed_missing``, ``count_memories``
- ``vivim.memory.facts``: ``add_fact``, ``get_fact``, ``list_facts``, ``update_fact``,
  ``delete_fact``
- ``vivim.memory.extract``: the pure rule-based extractor (``statements(text)``)
- ``vivim.memory.pipeline``: ``extract_memories(store, embedder=None)`` over stored
  conversations (incremental), ``pending_conversations``
- ``vivim.memory.profiles``: ``rebuild_profiles``, ``ensure_profiles``, ``profiles_dirty``,
  ``mark_dirty_for_conversations``, ``list_topics``, ``get_topic``, ``list_entities``,
  ``get_entity``
- ``vivim.memory.instructions``: custom instructions and personas (CRUD) and
  ``land_export_instructions``
- ``vivim.memory.notebooks``: notebooks and their entries (CRUD)
- ``vivim.memory.after_index``: ``after_index(vivim, user)``, what `vivim index` runs at
  the end
"""
