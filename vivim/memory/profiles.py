"""Topic and entity profiles built from a user's conversations, without any LLM.

Public functions:

- ``rebuild_profiles(store)`` -> :class:`ProfileReport`: recompute every topic, entity and
  TopicConversation link; clears ``is_dirty``
- ``ensure_profiles(store)`` -> report or None: rebuild only when something is dirty or
  conversations changed since the last build
- ``profiles_dirty(store)`` -> bool
- ``mark_dirty_for_conversations(store, conversation_ids)``: flag the topics and entities
  that new or changed conversations touch (``is_dirty = 1``), which invalidates compiled
  context built on them
- ``list_topics(store, limit=, dirty=None)``, ``get_topic(store, slug_or_id)`` (with its
  conversations), ``list_entities(store, entity_type=, limit=)``, ``get_entity(store, ref)``

**Topics** are keyphrases. Each conversation's text (title counted three times, messages'
prose, no code) is cut into words and two-word phrases, stopwords dropped; a term must occur
at least twice in a conversation to stand for it, and is scored ``(1 + ln tf) * idf``
(phrases x1.5; a word that only ever occurs inside a chosen phrase gives way to it). The
five best terms of each conversation are its keyphrases; a keyphrase that is among the best
of at least two conversations (one, in a one-conversation vault) becomes a topic, and
topics whose conversation sets overlap by Jaccard >= 0.8 are clustered into one.

**Entities** are tools (a list of known languages, frameworks and services), people (message
authors, and names after "my wife", "my friend", "named"/"called"), pets, projects ("my app
called X", "working on X"), places ("live in X", "moved to X", "I'm from X"), and other
proper nouns used in at least two conversations and three messages.

Engagement statistics for both: first/last time engaged, conversation and message counts,
units (topics), and an importance in [0, 1] = 0.5 x conversation share + 0.3 x message share
+ 0.2 x recency rank.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from vivim.domain.errors import NotFound
from vivim.domain.ids import derived_id
from vivim.domain.parts import plain_text
from vivim.domain.times import to_iso, utcnow
from vivim.memory.words import AMBIGUOUS_TOOLS, NOT_NAMES, STOPWORDS, TOOLS
from vivim.store.user.db import UserStore

PROFILES_VERSION = "profiles-1"
MIN_TF = 2
TOP_TERMS = 5
PHRASE_BOOST = 1.5
TITLE_WEIGHT = 3
CLUSTER_JACCARD = 0.8
MAX_TOPICS = 200
MAX_ENTITIES = 500
OTHER_MIN_CONVERSATIONS = 2
OTHER_MIN_MESSAGES = 3
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

_RELATIONS = (
    r"wife|husband|partner|fianc[eé]e?|boyfriend|girlfriend|son|daughter|mom|mum|mother|dad|father|brother|"
    r"sister|grandma|grandmother|grandpa|grandfather|aunt|uncle|cousin|friend|best friend|boss|manager|"
    r"colleague|coworker|co-worker|roommate|neighbou?r|teacher|mentor|kid|child"
)
_PETS = r"dog|cat|puppy|kitten|pet|horse|parrot|rabbit|hamster"
_NAME = r"([A-Z][a-z]+(?:\s[A-Z][a-z]+)?)"
_PERSON_CUE = re.compile(rf"\b(?:[Mm]y|[Oo]ur) (?:{_RELATIONS}),? (?:(?:is |was )?(?:named|called) )?{_NAME}\b")
_SELF_CUE = re.compile(rf"\b(?:[Mm]y name is|[Mm]y name's|I'm called|I am called|[Cc]all me) {_NAME}\b")
_PET_CUE = re.compile(rf"\b(?:[Mm]y|[Oo]ur) (?:{_PETS}),? (?:(?:is |was )?(?:named|called) )?{_NAME}\b")
_PROJECT_CUE = re.compile(
    r"\b(?:[Mm]y|[Oo]ur|[Tt]he) (?:side |new |current |own )?(?:project|app|startup|company|library|game|website|"
    r"tool|product|package|framework|podcast|blog|book|novel|business|band|channel),? (?:is )?(?:called|named) "
    r"([A-Z][\w-]*(?:\s[A-Z][\w-]*)?)"
)
_WORKING_ON = re.compile(r"\b(?:working on|building|launched|maintain|maintaining) ([A-Z][\w-]+)\b")
_PLACE_CUE = re.compile(
    r"\b(?:live|lives|living|lived|moved|moving|move|born|based|grew up|relocated|relocating|trip|travel|"
    r"travelling|traveling|vacation|holiday|visit|visiting|visited) (?:in|to|near) "
    r"([A-Z][a-z]+(?:\s[A-Z][a-z]+)?)"
)
_FROM_CUE = re.compile(r"\bI(?:'m| am) (?:originally )?from ([A-Z][a-z]+(?:\s[A-Z][a-z]+)?)")
_ASSISTANT_NAMES = frozenset({"user", "assistant", "system", "tool", "chatgpt", "claude", "gemini", "model", "you"})
_TYPE_RANK = {"person": 0, "pet": 1, "project": 2, "place": 3, "tool": 4, "other": 5}


@dataclass
class ProfileReport:
    topics: int = 0
    entities: int = 0
    links: int = 0
    conversations: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"topics": self.topics, "entities": self.entities, "links": self.links,
                "conversations": self.conversations}


@dataclass
class _Message:
    id: str
    conversation_id: str
    role: str
    author: str | None
    text: str
    when: str | None
    terms: set[str] = field(default_factory=set)


@dataclass
class _Conversation:
    id: str
    title: str
    when: str | None
    messages: list[_Message] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    """Case-insensitive term counts (title x3), filled by _topics."""


# --- reading the vault --------------------------------------------------------------------------
def _prose(parts_json: str) -> str:
    try:
        parts = json.loads(parts_json)
    except ValueError:
        return ""
    return "\n\n".join(plain_text(p) for p in parts if isinstance(p, dict) and p.get("type") == "text")


def _load(conn: sqlite3.Connection, conversation_ids: list[str] | None = None) -> list[_Conversation]:
    where, params = "", []
    if conversation_ids is not None:
        where = f" WHERE id IN ({','.join('?' * len(conversation_ids))})"
        params = list(conversation_ids)
    convs = {
        r[0]: _Conversation(r[0], r[1] or "", r[2])
        for r in conn.execute(
            f"SELECT id, title, COALESCE(created_at, captured_at) FROM conversations{where} ORDER BY id", params
        )
    }
    mwhere = where.replace("id IN", "conversation_id IN") + (" AND" if where else " WHERE")
    for mid, cid, role, author, parts, when in conn.execute(
        f"SELECT id, conversation_id, role, author, parts, created_at FROM messages{mwhere}"
        " hidden = 0 AND role IN ('user', 'assistant') ORDER BY conversation_id, message_index",
        params,
    ):
        conv = convs.get(cid)
        if conv is not None:
            conv.messages.append(_Message(mid, cid, role, author, _prose(parts), when or conv.when))
    return list(convs.values())


# --- terms -------------------------------------------------------------------------------------
_LOWER_WORD = re.compile(r"[a-z][a-z0-9+#]*(?:[-'][a-z0-9]+)*")


def _terms(text: str, counts: Counter[str], weight: int = 1) -> set[str]:
    """Count the words and two-word phrases of ``text``; returns the set of terms in it.

    This runs over every message of the vault, so the work is done by list comprehensions
    and ``Counter.update`` rather than a Python loop per word."""
    toks = _LOWER_WORD.findall(text.lower())
    keep = [len(w) >= 3 and w not in STOPWORDS and not w.isdigit() for w in toks]
    words = [w for w, k in zip(toks, keep, strict=True) if k]
    phrases = [f"{a} {b}" for a, b, ka, kb in zip(toks, toks[1:], keep, keep[1:], strict=False) if ka and kb]
    if weight == 1:
        counts.update(words)
        counts.update(phrases)
    else:
        for term in (*words, *phrases):
            counts[term] += weight
    return {*words, *phrases}


def _label(term: str, texts: list[str]) -> str:
    """The term as it is most often written in ``texts`` (a lower-case one capitalised)."""
    pattern = re.compile(r"(?<![\w])" + r"\s+".join(re.escape(p) for p in term.split(" ")) + r"(?![\w])", re.IGNORECASE)
    forms: Counter[str] = Counter()
    for text in texts:
        forms.update(" ".join(m.split()) for m in pattern.findall(text))
    best = sorted(forms.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] if forms else term
    return best if any(c.isupper() for c in best) else best[:1].upper() + best[1:]


@dataclass
class _Topic:
    terms: list[str]
    conversations: dict[str, float]


def _topics(convs: list[_Conversation]) -> list[_Topic]:
    n = len(convs)
    tf: dict[str, Counter[str]] = {}
    df: Counter[str] = Counter()
    for conv in convs:
        counts: Counter[str] = Counter()
        _terms(conv.title, counts, TITLE_WEIGHT)
        for m in conv.messages:
            m.terms = _terms(m.text, counts)
        tf[conv.id] = counts
        conv.counts = counts
        df.update(counts.keys())
    best_of: dict[str, dict[str, float]] = {}
    for conv in convs:
        counts = tf[conv.id]
        scored: dict[str, float] = {}
        for term, count in counts.items():
            if count < MIN_TF:
                continue
            idf = math.log((1 + n) / (1 + df[term])) + 1
            scored[term] = (1 + math.log(count)) * idf * (PHRASE_BOOST if " " in term else 1.0)
        # A word that occurs only inside a kept phrase is that phrase, not a topic of its own.
        for phrase in [t for t in scored if " " in t]:
            for word in phrase.split(" "):
                if word in scored and counts[word] <= counts[phrase]:
                    del scored[word]
        top = sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_TERMS]
        if not top:
            continue
        peak = top[0][1]
        for term, score in top:
            best_of.setdefault(term, {})[conv.id] = round(score / peak, 4)
    need = 2 if n >= 2 else 1
    terms = [t for t, cs in best_of.items() if len(cs) >= need]
    terms.sort(key=lambda t: (-len(best_of[t]), -sum(best_of[t].values()), t))
    clusters: list[_Topic] = []
    for term in terms:
        mine = set(best_of[term])
        for topic in clusters:
            seed = set(best_of[topic.terms[0]])
            if len(mine & seed) / len(mine | seed) >= CLUSTER_JACCARD:
                topic.terms.append(term)
                for cid, rel in best_of[term].items():
                    topic.conversations[cid] = max(topic.conversations.get(cid, 0.0), rel)
                break
        else:
            clusters.append(_Topic([term], dict(best_of[term])))
    return clusters[:MAX_TOPICS]


# --- entities ----------------------------------------------------------------------------------
# Words as tools are spelled: "node.js", "c++", "c#", "scikit-learn" are one token each.
_TOOL_TOKEN = re.compile(r"(?<![\w.#+-])[A-Za-z][A-Za-z0-9]*(?:\+\+|#|(?:[.-][A-Za-z0-9]+)*)(?![\w#+]|\.\w)")
_TWO_WORD_TOOLS = {k.split(" ")[0]: k for k in TOOLS if " " in k}
_TOOL_WORDS = frozenset(k for k in TOOLS if " " not in k) | frozenset(_TWO_WORD_TOOLS)


def _tool_hits(text: str) -> list[tuple[str, str, int, int]]:
    """(display name, as written, start, end) of every known tool in ``text``: one token
    scan and dictionary lookups, not a regex alternation of every name (many times slower)."""
    # Most messages name no tool: a set intersection (C speed) finds that out first.
    if not set(map(str.lower, _TOOL_TOKEN.findall(text))) & _TOOL_WORDS:
        return []
    out = []
    for hit in _TOOL_TOKEN.finditer(text):
        word = hit.group(0)
        low = word.lower()
        if low not in _TOOL_WORDS:
            continue
        if low in _TWO_WORD_TOOLS:
            full = _TWO_WORD_TOOLS[low]
            after = text[hit.start() : hit.start() + len(full) + 1]
            if after[: len(full)].lower() == full and not after[len(full) :].isalnum():
                out.append((TOOLS[full], after[: len(full)], hit.start(), hit.start() + len(full)))
                continue
        name = _tool_name(word)
        if name:
            out.append((name, word, hit.start(), hit.end()))
    return out


_NAME_WORD = re.compile(r"(?<![\w'-])[A-Z][\w'-]*")


def _name_hits(text: str, first_words: dict[str, list[str]]) -> list[tuple[str, int, int]]:
    """(name, start, end) of every known name in ``text`` (names start with a capital)."""
    out = []
    for hit in _NAME_WORD.finditer(text):
        candidates = first_words.get(hit.group(0).rstrip("'-"))
        if not candidates:
            continue
        for name in candidates:  # longest first
            end = hit.start() + len(name)
            if text.startswith(name, hit.start()) and (end == len(text) or not (text[end].isalnum() or text[end] == "_")):
                out.append((name, hit.start(), end))
                break
    return out


@dataclass
class _Entity:
    name: str
    entity_type: str
    aliases: Counter[str] = field(default_factory=Counter)
    messages: set[str] = field(default_factory=set)
    conversations: set[str] = field(default_factory=set)
    first: str | None = None
    last: str | None = None
    example: str | None = None


def _snippet(text: str, start: int, end: int) -> str:
    left = max(text.rfind(".", 0, start), text.rfind("\n", 0, start)) + 1
    right_candidates = [i for i in (text.find(".", end), text.find("\n", end)) if i != -1]
    right = min(right_candidates) + 1 if right_candidates else len(text)
    s = re.sub(r"\s+", " ", text[left:right]).strip()
    return s if len(s) <= 200 else s[:197] + "..."


# A capitalised word inside a sentence: after a space that follows neither sentence
# punctuation nor an opening quote or bracket.
_MID_SENTENCE_CAPITAL = re.compile(r"(?<=[^.!?:;\s\"“(] )[A-Z][a-z]{2,}(?![\w'-])")
_CUES = (
    (_SELF_CUE, "person", ("name", "call")),
    (_PERSON_CUE, "person", ("my ", "our ")),
    (_PET_CUE, "pet", ("my ", "our ")),
    (_PROJECT_CUE, "project", ("called", "named")),
    (_WORKING_ON, "project", ("working on", "building", "launched", "maintain")),
    (_PLACE_CUE, "place", ("live", "moved", "moving", "move ", "born", "based", "grew up", "relocat", "trip", "travel",
                           "vacation", "holiday", "visit")),
    (_FROM_CUE, "place", ("from",)),
)


def _tool_name(matched: str) -> str | None:
    low = matched.lower()
    # Tools named by everyday words ("react", "swift", "rust") count only when capitalised.
    if low in AMBIGUOUS_TOOLS and not matched[:1].isupper():
        return None
    return TOOLS.get(low)


def _discover(convs: list[_Conversation]) -> dict[tuple[str, str], _Entity]:
    """Entities by (normalised name, type): cues, tools and authors, then proper nouns."""
    found: dict[tuple[str, str], _Entity] = {}

    def note(name: str, etype: str, example: str | None) -> None:
        name = name.strip()
        if not name or name in NOT_NAMES or name.split(" ")[0] in NOT_NAMES:
            return
        key = (name.lower(), etype)
        ent = found.setdefault(key, _Entity(name, etype))
        if ent.example is None and example:
            ent.example = example

    proper: dict[str, tuple[set[str], set[str]]] = {}
    capitalised: Counter[str] = Counter()
    for conv in convs:
        for m in conv.messages:
            if m.author and m.author.lower() not in _ASSISTANT_NAMES and not m.author.lower().startswith("gpt"):
                note(m.author, "person", None)
            text = m.text
            if not text:
                continue
            low = text.lower()
            for pattern, etype, needles in _CUES:
                # A substring check is far cheaper than a regex search, and most texts fail it.
                if not any(n in low for n in needles):
                    continue
                for hit in pattern.finditer(text):
                    name = hit.group(1)
                    if etype == "project" and name.lower() in TOOLS:
                        continue
                    note(name, etype, _snippet(text, hit.start(), hit.end()))
            for tool, _written, _start, _end in _tool_hits(text):
                note(tool, "tool", None)
            words = _MID_SENTENCE_CAPITAL.findall(text)
            if words:
                capitalised.update(words)
                for word in set(words):
                    msgs, cs = proper.setdefault(word, (set(), set()))
                    msgs.add(m.id)
                    cs.add(conv.id)
    typed = {name for name, _ in found}
    for word, (msgs, cs) in proper.items():
        low = word.lower()
        if (
            len(cs) >= OTHER_MIN_CONVERSATIONS
            and len(msgs) >= OTHER_MIN_MESSAGES
            and low not in typed
            and low not in STOPWORDS
            and low not in TOOLS
        ):
            # A name is mostly written with its capital; a word that is also common in lower
            # case ("Note", "Python" in prose) is not one. Occurrences not counted as
            # mid-sentence capitals (lower case, or opening a sentence) count against it.
            others = sum(c.counts.get(low, 0) for c in convs) - capitalised[word]
            if others < len(msgs):
                note(word, "other", None)
    # One type per name: the most specific cue wins (a person is not also "other").
    best: dict[str, tuple[str, str]] = {}
    for key in sorted(found, key=lambda k: (_TYPE_RANK[k[1]], k)):
        best.setdefault(key[0], key)
    return {k: found[k] for k in best.values()}


def _count_mentions(convs: list[_Conversation], entities: dict[tuple[str, str], _Entity]) -> None:
    if not entities:
        return
    proper = {e.name: e for e in entities.values() if e.entity_type != "tool"}
    tools = {e.name: e for e in entities.values() if e.entity_type == "tool"}
    first_words: dict[str, list[str]] = {}
    for name in sorted(proper, key=len, reverse=True):
        first_words.setdefault(name.split(" ")[0], []).append(name)
    for conv in convs:
        for m in conv.messages:
            hits: list[tuple[_Entity, str, int, int]] = []
            if first_words and m.text:
                hits += [(proper[n], n, a, b) for n, a, b in _name_hits(m.text, first_words)]
            if tools and m.text:
                hits += [(tools[n], w, a, b) for n, w, a, b in _tool_hits(m.text) if n in tools]
            if m.author and m.author in proper:
                hits.append((proper[m.author], m.author, -1, -1))
            for ent, surface, start, end in hits:
                ent.messages.add(m.id)
                ent.conversations.add(conv.id)
                if surface != ent.name:
                    ent.aliases[surface] += 1
                if m.when:
                    ent.first = m.when if ent.first is None or m.when < ent.first else ent.first
                    ent.last = m.when if ent.last is None or m.when > ent.last else ent.last
                if ent.example is None and start >= 0 and m.role == "user":
                    ent.example = _snippet(m.text, start, end)


# --- scoring and writing -------------------------------------------------------------------------
def _importance(convs: int, msgs: int, last: str | None, max_convs: int, max_msgs: int, recency: dict[str, float]) -> float:
    value = 0.5 * convs / max(1, max_convs) + 0.3 * msgs / max(1, max_msgs) + 0.2 * recency.get(last or "", 0.0)
    return round(value, 4)


def _recency_ranks(times: list[str | None]) -> dict[str, float]:
    distinct = sorted({t for t in times if t})
    if len(distinct) == 1:
        return {distinct[0]: 1.0}
    return {t: i / (len(distinct) - 1) for i, t in enumerate(distinct)}


def _vault_state(conn: sqlite3.Connection) -> str:
    row = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(version), 0), COALESCE(MAX(captured_at), '') FROM conversations"
    ).fetchone()
    return f"{PROFILES_VERSION}:{row[0]}:{row[1]}:{row[2]}"


def _slug(term: str) -> str:
    return re.sub(r"[^a-z0-9+#]+", "-", term.lower()).strip("-") or "topic"


def rebuild_profiles(store: UserStore) -> ProfileReport:
    with store.read() as conn:
        convs = _load(conn)
        unit_counts = dict(
            conn.execute("SELECT message_id, COUNT(*) FROM atomic_chat_units WHERE message_id IS NOT NULL"
                         " GROUP BY message_id")
        )
        state = _vault_state(conn)
    topics = _topics(convs)
    by_id = {c.id: c for c in convs}
    entities = _discover(convs)
    _count_mentions(convs, entities)
    now = to_iso(utcnow())
    report = ProfileReport(conversations=len(convs))

    topic_rows = []
    for topic in topics:
        wanted = set(topic.terms)
        msgs = [m for cid in topic.conversations for m in by_id[cid].messages if m.terms & wanted]
        whens = [m.when for m in msgs if m.when] or [by_id[c].when for c in topic.conversations if by_id[c].when]
        titles = [by_id[c].title for c in sorted(topic.conversations, key=lambda c: (-topic.conversations[c], c))]
        topic_rows.append((topic, msgs, min(whens) if whens else None, max(whens) if whens else None, titles))
    max_tc = max((len(t.conversations) for t, *_ in topic_rows), default=1)
    max_tm = max((len(m) for _, m, *_ in topic_rows), default=1)
    topic_recency = _recency_ranks([last for *_, last, _ in topic_rows])

    ents = sorted(entities.values(), key=lambda e: (-len(e.messages), e.name))[:MAX_ENTITIES]
    ents = [e for e in ents if e.messages]
    max_ec = max((len(e.conversations) for e in ents), default=1)
    max_em = max((len(e.messages) for e in ents), default=1)
    entity_recency = _recency_ranks([e.last for e in ents])

    with store.transaction() as conn:
        conn.execute("DELETE FROM topic_conversations")
        keep_topics: list[str] = []
        for topic, msgs, first, last, titles in topic_rows:
            slug = _slug(topic.terms[0])
            tid = derived_id("topic", slug)
            keep_topics.append(tid)
            label = _label(topic.terms[0], [by_id[c].title for c in topic.conversations] + [m.text for m in msgs])
            shown = ", ".join(f"“{t}”" for t in titles[:3] if t)
            description = (
                f"{label}: discussed in {len(topic.conversations)} conversation"
                f"{'s' if len(topic.conversations) != 1 else ''}"
                + (f" (from {first[:10]} to {last[:10]})" if first and last else "")
                + (f", e.g. {shown}" if shown else "")
                + f". Keyphrases: {', '.join(topic.terms)}."
            )
            unit_count = sum(unit_counts.get(m.id, 0) for m in msgs)
            conn.execute(
                "INSERT INTO topic_profiles (id, slug, label, keyphrases, description, first_engaged_at,"
                " last_engaged_at, conversation_count, message_count, unit_count, importance, is_dirty, created_at,"
                " updated_at, metadata) VALUES (?,?,?,?,?,?,?,?,?,?,?,0,?,?,?)"
                " ON CONFLICT(id) DO UPDATE SET slug = excluded.slug, label = excluded.label,"
                " keyphrases = excluded.keyphrases, description = excluded.description,"
                " first_engaged_at = excluded.first_engaged_at, last_engaged_at = excluded.last_engaged_at,"
                " conversation_count = excluded.conversation_count, message_count = excluded.message_count,"
                " unit_count = excluded.unit_count, importance = excluded.importance, is_dirty = 0,"
                " updated_at = excluded.updated_at, metadata = excluded.metadata",
                (
                    tid, slug, label, _dumps(topic.terms), description, first, last, len(topic.conversations),
                    len(msgs), unit_count,
                    _importance(len(topic.conversations), len(msgs), last, max_tc, max_tm, topic_recency),
                    now, now, _dumps({"algorithm": PROFILES_VERSION}),
                ),
            )
            conn.executemany(
                "INSERT INTO topic_conversations (topic_id, conversation_id, relevance, created_at) VALUES (?,?,?,?)",
                [(tid, cid, rel, now) for cid, rel in sorted(topic.conversations.items())],
            )
            report.links += len(topic.conversations)
        _delete_missing(conn, "topic_profiles", keep_topics)
        keep_entities: list[str] = []
        for e in ents:
            normalized = re.sub(r"\s+", " ", e.name.lower()).strip()
            eid = derived_id("entity", e.entity_type, normalized)
            keep_entities.append(eid)
            description = (
                f"{e.name} ({e.entity_type}): mentioned in {len(e.messages)} message"
                f"{'s' if len(e.messages) != 1 else ''} across {len(e.conversations)} conversation"
                f"{'s' if len(e.conversations) != 1 else ''}" + (f". “{e.example}”" if e.example else ".")
            )
            aliases = sorted(a for a in e.aliases if a.lower() != e.name.lower() or a != e.name)
            conn.execute(
                "INSERT INTO entity_profiles (id, name, normalized_name, entity_type, aliases, description,"
                " first_seen_at, last_seen_at, mention_count, conversation_count, importance, is_dirty, created_at,"
                " updated_at, metadata) VALUES (?,?,?,?,?,?,?,?,?,?,?,0,?,?,?)"
                " ON CONFLICT(id) DO UPDATE SET name = excluded.name, aliases = excluded.aliases,"
                " description = excluded.description, first_seen_at = excluded.first_seen_at,"
                " last_seen_at = excluded.last_seen_at, mention_count = excluded.mention_count,"
                " conversation_count = excluded.conversation_count, importance = excluded.importance, is_dirty = 0,"
                " updated_at = excluded.updated_at, metadata = excluded.metadata",
                (
                    eid, e.name, normalized, e.entity_type, _dumps(aliases), description, e.first, e.last,
                    len(e.messages), len(e.conversations),
                    _importance(len(e.conversations), len(e.messages), e.last, max_ec, max_em, entity_recency),
                    now, now, _dumps({"algorithm": PROFILES_VERSION}),
                ),
            )
        _delete_missing(conn, "entity_profiles", keep_entities)
        conn.execute(
            "INSERT INTO vault_meta (key, value) VALUES ('profiles_state', ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (state,),
        )
    report.topics = len(keep_topics)
    report.entities = len(keep_entities)
    return report


def _delete_missing(conn: sqlite3.Connection, table: str, keep: list[str]) -> None:
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS _keep_ids (id TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM _keep_ids")
    conn.executemany("INSERT OR IGNORE INTO _keep_ids (id) VALUES (?)", [(k,) for k in keep])
    conn.execute(f"DELETE FROM {table} WHERE id NOT IN (SELECT id FROM _keep_ids)")
    conn.execute("DELETE FROM _keep_ids")


def profiles_dirty(store: UserStore) -> bool:
    """True when profiles were never built, a conversation changed since, or a profile is
    flagged dirty."""
    with store.read() as conn:
        row = conn.execute("SELECT value FROM vault_meta WHERE key = 'profiles_state'").fetchone()
        if row is None or row[0] != _vault_state(conn):
            return True
        return bool(
            conn.execute("SELECT EXISTS(SELECT 1 FROM topic_profiles WHERE is_dirty = 1)"
                         " OR EXISTS(SELECT 1 FROM entity_profiles WHERE is_dirty = 1)").fetchone()[0]
        )


def ensure_profiles(store: UserStore) -> ProfileReport | None:
    return rebuild_profiles(store) if profiles_dirty(store) else None


def mark_dirty_for_conversations(store: UserStore, conversation_ids: list[str]) -> int:
    """Flag the profiles these conversations mention; returns how many were flagged."""
    if not conversation_ids:
        return 0
    with store.read() as conn:
        topics = [(r[0], json.loads(r[1] or "[]")) for r in conn.execute("SELECT id, keyphrases FROM topic_profiles")]
        entities = [
            (r[0], [r[1], *json.loads(r[2] or "[]")])
            for r in conn.execute("SELECT id, name, aliases FROM entity_profiles")
        ]
    if not topics and not entities:
        return 0
    with store.read() as conn:
        total = conn.execute("SELECT COUNT(*) FROM conversations").fetchone()[0]
    if len(conversation_ids) > max(50, total // 5):
        # Much of the vault is new (a first extraction, a rescan): every profile is stale.
        with store.transaction() as conn:
            flagged = conn.execute("UPDATE topic_profiles SET is_dirty = 1").rowcount
            flagged += conn.execute("UPDATE entity_profiles SET is_dirty = 1").rowcount
        return flagged
    dirty_topics: set[str] = set()
    dirty_entities: set[str] = set()
    by_name: dict[str, set[str]] = {}
    for eid, names in entities:
        for n in names:
            if n:
                by_name.setdefault(n.lower(), set()).add(eid)
    # One pass per conversation over all names at once.
    names_pattern = (
        re.compile(r"(?<!\w)(" + "|".join(re.escape(n) for n in sorted(by_name, key=len, reverse=True)) + r")(?!\w)")
        if by_name
        else None
    )
    for start in range(0, len(conversation_ids), 200):
        with store.read() as conn:
            convs = _load(conn, conversation_ids[start : start + 200])
        for conv in convs:
            counts: Counter[str] = Counter()
            text = "\n".join([conv.title, *(m.text for m in conv.messages)])
            terms = _terms(text, counts)
            low = text.lower()
            dirty_topics.update(tid for tid, phrases in topics if terms & set(phrases))
            if names_pattern is not None:
                for hit in set(names_pattern.findall(low)):
                    dirty_entities.update(by_name.get(hit, ()))
            for author in {m.author.lower() for m in conv.messages if m.author}:
                dirty_entities.update(by_name.get(author, ()))
    with store.transaction() as conn:
        conn.executemany("UPDATE topic_profiles SET is_dirty = 1 WHERE id = ?", [(t,) for t in sorted(dirty_topics)])
        conn.executemany(
            "UPDATE entity_profiles SET is_dirty = 1 WHERE id = ?", [(e,) for e in sorted(dirty_entities)]
        )
    return len(dirty_topics) + len(dirty_entities)


# --- reading -------------------------------------------------------------------------------------
_TOPIC_COLUMNS = (
    "id, slug, label, keyphrases, description, first_engaged_at, last_engaged_at, conversation_count,"
    " message_count, unit_count, importance, is_dirty, created_at, updated_at"
)
_ENTITY_COLUMNS = (
    "id, name, normalized_name, entity_type, aliases, description, first_seen_at, last_seen_at, mention_count,"
    " conversation_count, importance, is_dirty, created_at, updated_at"
)


def _dict(cur: sqlite3.Cursor, row: tuple[Any, ...], json_key: str) -> dict[str, Any]:
    d = {c[0]: v for c, v in zip(cur.description, row, strict=True)}
    d[json_key] = json.loads(d[json_key] or "[]")
    d["is_dirty"] = bool(d["is_dirty"])
    return d


def list_topics(store: UserStore, *, limit: int = 50, dirty: bool | None = None) -> list[dict[str, Any]]:
    sql = f"SELECT {_TOPIC_COLUMNS} FROM topic_profiles"
    params: list[Any] = []
    if dirty is not None:
        sql += " WHERE is_dirty = ?"
        params.append(int(dirty))
    sql += " ORDER BY importance DESC, slug LIMIT ?"
    params.append(max(1, limit))
    with store.read() as conn:
        cur = conn.execute(sql, params)
        return [_dict(cur, r, "keyphrases") for r in cur.fetchall()]


def get_topic(store: UserStore, ref: str) -> dict[str, Any]:
    with store.read() as conn:
        cur = conn.execute(f"SELECT {_TOPIC_COLUMNS} FROM topic_profiles WHERE id = ? OR slug = ?", (ref, ref))
        row = cur.fetchone()
        if row is None:
            raise NotFound(f"no topic {ref[:60]!r}; `vivim profiles topics` lists them")
        topic = _dict(cur, row, "keyphrases")
        topic["conversations"] = [
            {"conversation_id": r[0], "title": r[1], "relevance": r[2], "created_at": r[3]}
            for r in conn.execute(
                "SELECT t.conversation_id, c.title, t.relevance, COALESCE(c.created_at, c.captured_at)"
                " FROM topic_conversations t JOIN conversations c ON c.id = t.conversation_id WHERE t.topic_id = ?"
                " ORDER BY t.relevance DESC, c.title, t.conversation_id",
                (topic["id"],),
            )
        ]
    return topic


def list_entities(store: UserStore, *, entity_type: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    sql = f"SELECT {_ENTITY_COLUMNS} FROM entity_profiles"
    params: list[Any] = []
    if entity_type:
        sql += " WHERE entity_type = ?"
        params.append(entity_type)
    sql += " ORDER BY importance DESC, mention_count DESC, name LIMIT ?"
    params.append(max(1, limit))
    with store.read() as conn:
        cur = conn.execute(sql, params)
        return [_dict(cur, r, "aliases") for r in cur.fetchall()]


def get_entity(store: UserStore, ref: str) -> dict[str, Any]:
    with store.read() as conn:
        cur = conn.execute(
            f"SELECT {_ENTITY_COLUMNS} FROM entity_profiles WHERE id = ? OR normalized_name = ?"
            " ORDER BY entity_type LIMIT 1",
            (ref, ref.lower().strip()),
        )
        row = cur.fetchone()
        if row is None:
            raise NotFound(f"no entity {ref[:60]!r}; `vivim profiles entities` lists them")
        return _dict(cur, row, "aliases")


__all__ = [
    "ProfileReport",
    "ensure_profiles",
    "get_entity",
    "get_topic",
    "list_entities",
    "list_topics",
    "mark_dirty_for_conversations",
    "profiles_dirty",
    "rebuild_profiles",
]
