"""ConversationCompaction: a long stretch of a conversation made short, without an LLM.

Extractive: the summary is the conversation's own most central sentences (SumBasic:
a sentence scores the mean frequency of its content words across the stretch; after a
pick, the picked words count for less, so the summary does not repeat itself), kept in
their original order with who said them. Key decisions and open questions are found by
cue phrases; code artifacts are listed by language, size and the names they define.

``compression_ratio`` is compacted tokens / original tokens (0.1 = ten times smaller).
Compactions are stored per (conversation, message range, algorithm version); the row id
digests the messages it was made from, so an edited message makes it stale.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import re
import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from vivim.context.budget import count
from vivim.context.sources import Turn
from vivim.domain.times import to_iso, utcnow
from vivim.search.query import terms

ALGORITHM_VERSION = "extractive-1"
TARGET_RATIO = 0.12
MIN_SUMMARY_TOKENS, MAX_SUMMARY_TOKENS = 60, 600
MAX_LIST = 8
MAX_DECISIONS = 12
MAX_SENTENCE_WORDS = 60

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])")
_DECISION = re.compile(
    r"\b(let'?s (go with|use|do|stick with|keep|switch to)|(we|i)('ll| will) (go with|use|take|stick with|switch to)"
    r"|(we|i) (have )?(decided|chose|picked|settled on|agreed)|decided to|decision:|(i'm|we're) going (to go )?with"
    r"|settled on|agreed (on|to)|the plan is|final (choice|decision)|we should go with)\b",
    re.IGNORECASE,
)
# In a chat the user's directives are the decisions ("Use the change event", "prices
# should start at zero"): the assistant carries them out.
_DIRECTIVE = re.compile(
    r"^(?:ok(?:ay)?[,.]?\s+|and\s+|also\s+|please\s+|now\s+)*(use|add|make|remove|keep|switch|change|rename|avoid"
    r"|don't|do not|always|never|ignore|display|show|drop|replace|move)\b|\b(should|must|needs? to)\b",
    re.IGNORECASE,
)
_OPEN = re.compile(
    r"\b(still need to|not sure (yet|whether|if)|haven't decided|have not decided|to be decided|tbd|todo|open question"
    r"|need to figure out|remains? unclear|left to do|next step)\b",
    re.IGNORECASE,
)
_DEFINES = re.compile(
    r"^\s*(?:export\s+|async\s+|public\s+|private\s+|static\s+)*"
    r"(def|class|function|fn|func|interface|struct|enum|type|const|CREATE TABLE|CREATE VIEW)\s+([A-Za-z_][\w.]*)",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass
class Compaction:
    conversation_id: str
    from_message_index: int
    to_message_index: int
    summary: list[str]
    key_decisions: list[str]
    open_questions: list[str]
    code_artifacts: list[dict[str, Any]]
    original_tokens: int
    compacted_tokens: int = 0
    compression_ratio: float = 0.0
    algorithm_version: str = ALGORITHM_VERSION
    id: str = ""
    created_at: str = ""
    cached: bool = field(default=False, compare=False)

    def render(self, *, markdown: bool = False) -> str:
        head = (
            f"Earlier in this conversation (messages {self.from_message_index}-{self.to_message_index},"
            f" compacted from {self.original_tokens} tokens):"
        )
        lines = [f"**{head}**" if markdown else head, *self.summary]
        for title, items in (("Key decisions", self.key_decisions), ("Open questions", self.open_questions)):
            if items:
                lines.append(f"*{title}:*" if markdown else f"{title}:")
                lines.extend(f"- {x}" for x in items)
        if self.code_artifacts:
            lines.append("*Code artifacts:*" if markdown else "Code artifacts:")
            lines.extend(f"- {describe_artifact(a)}" for a in self.code_artifacts)
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("cached")
        return d


def describe_artifact(a: dict[str, Any]) -> str:
    names = ", ".join(a.get("defines") or []) or a.get("first_line") or ""
    return f"{a.get('language') or 'code'}, {a.get('lines', 0)} lines (message {a.get('message_index')}): {names}".rstrip(
        ": "
    )


def _sentences(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        line = line.strip().lstrip("-*#> ").strip()
        if not line:
            continue
        out.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    return out


def _clip_words(sentence: str) -> str:
    words = sentence.split()
    return sentence if len(words) <= MAX_SENTENCE_WORDS else " ".join(words[:MAX_SENTENCE_WORDS]) + " …"


def _speaker(t: Turn) -> str:
    return t.author or t.role


def _summary(turns: list[Turn], budget: int) -> list[str]:
    candidates: list[tuple[int, int, str, list[str], str]] = []  # (turn, order, sentence, words, speaker)
    freq: Counter[str] = Counter()
    order = 0
    for ti, t in enumerate(turns):
        for si, s in enumerate(_sentences(t.prose)):
            words = terms(s)
            # Fragments (list items, labels) and lead-ins ending in a colon say little alone.
            if len(words) < 4 or len(s.split()) < 6 or s.endswith(":"):
                continue
            candidates.append((ti, order, s, words, _speaker(t)))
            freq.update(words)
            order += 1
            del si
    if not candidates:
        return []
    total = sum(freq.values())
    p = {w: c / total for w, c in freq.items()}
    first_of_turn = {c[0]: i for i, c in reversed(list(enumerate(candidates)))}

    def score(i: int) -> float:
        ti, _o, _s, words, _sp = candidates[i]
        base = sum(p[w] for w in words) / len(words)
        # The user's own words carry the intent; a message's first sentence its point.
        if turns[ti].role == "user":
            base *= 1.25
        if first_of_turn.get(ti) == i:
            base *= 1.15
        return base

    # Lazy greedy: a pick only lowers other sentences' scores (probabilities are squared),
    # so a popped sentence whose fresh score still beats the next stale one is the best.
    heap = [(-score(i), i) for i in range(len(candidates))]
    heapq.heapify(heap)
    chosen: list[tuple[int, str]] = []
    used = 0
    while heap:
        _stale, best = heapq.heappop(heap)
        fresh = score(best)
        if heap and -heap[0][0] > fresh + 1e-12:
            heapq.heappush(heap, (-fresh, best))
            continue
        ti, o, s, words, speaker = candidates[best]
        line = f"{speaker}: {_clip_words(s)}"
        cost = count(line) + 1
        if used + cost > budget:
            if used >= budget * 0.8:
                break
            continue
        chosen.append((o, line))
        used += cost
        for w in set(words):
            p[w] = p[w] ** 2
    return [line for _o, line in sorted(chosen)]


def _decisions(turns: list[Turn]) -> list[str]:
    """Decisions stated by anyone, and the user's directives; the latest when there are
    more than fit (later ones refine or replace earlier ones)."""
    out: dict[str, None] = {}
    for t in turns:
        for s in _sentences(t.prose):
            if s.endswith("?"):
                continue
            found = _DECISION.search(s)
            if t.role == "user":
                decided = bool(found) or bool(_DIRECTIVE.search(s))
            else:
                # An assistant saying what it will do ("I'll use...") carries out a
                # decision; only a decision it reports ("we agreed...") counts.
                decided = bool(found) and not found.group(0).lower().startswith("i")
            if decided:
                out.setdefault(f"{_speaker(t)}: {_clip_words(s)}", None)
    return list(out)[-MAX_DECISIONS:]


def _open_questions(turns: list[Turn]) -> list[str]:
    out: dict[str, None] = {}
    for i, t in enumerate(turns):
        later = [set(terms(u.prose)) for u in turns[i + 1 :]]
        for s in _sentences(t.prose):
            if s.endswith("?") and t.role == "user":
                words = set(terms(s))
                # Answered when a later message covers at least a third of its words.
                answered = bool(words) and any(len(words & w) * 3 >= len(words) for w in later)
                if not answered:
                    out.setdefault(f"{_speaker(t)}: {_clip_words(s)}", None)
            elif _OPEN.search(s):
                out.setdefault(f"{_speaker(t)}: {_clip_words(s)}", None)
    return list(out)[-MAX_LIST:]


def _artifacts(turns: list[Turn]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for t in turns:
        for part in t.code:
            code = part.get("code") or ""
            if not code.strip():
                continue
            digest = hashlib.blake2b(code.encode(), digest_size=8).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            lines = code.splitlines()
            defines = list(dict.fromkeys(m.group(2) for m in _DEFINES.finditer(code)))[:6]
            first = next((ln.strip() for ln in lines if ln.strip()), "")
            out.append(
                {
                    "language": part.get("language"),
                    "lines": len(lines),
                    "message_index": t.index,
                    "defines": defines,
                    "first_line": first[:80],
                }
            )
    return out[-2 * MAX_LIST :]


def turns_digest(turns: list[Turn]) -> str:
    h = hashlib.blake2b(digest_size=12)
    for t in turns:
        h.update(f"{t.id}\x00{t.index}\x00{t.role}\x00{t.text}\x01".encode())
    return h.hexdigest()


def compact(conversation_id: str, turns: list[Turn], *, max_tokens: int | None = None) -> Compaction:
    """Compact ``turns`` (one stretch of a conversation, in order). ``max_tokens`` bounds
    the rendered compaction; by default it aims at about an eighth of the original."""
    if not turns:
        raise ValueError("nothing to compact")
    original = sum(count(t.text) for t in turns)
    target = max_tokens if max_tokens is not None else int(original * TARGET_RATIO)
    target = max(1, target)
    summary_budget = max(min(MIN_SUMMARY_TOKENS, target), min(MAX_SUMMARY_TOKENS, int(target * 0.7)))
    c = Compaction(
        conversation_id=conversation_id,
        from_message_index=turns[0].index,
        to_message_index=turns[-1].index,
        summary=_summary(turns, summary_budget),
        key_decisions=_decisions(turns),
        open_questions=_open_questions(turns),
        code_artifacts=_artifacts(turns),
        original_tokens=original,
    )
    _shrink(c, target)
    c.compacted_tokens = count(c.render())
    c.compression_ratio = round(c.compacted_tokens / original, 4) if original else 0.0
    c.id = f"{conversation_id[:16]}-{turns_digest(turns)}"
    c.created_at = to_iso(utcnow()) or ""
    return c


def _shrink(c: Compaction, target: int) -> None:
    """Drop the least important lines until the rendered compaction fits ``target``."""
    while count(c.render()) > target:
        for items in (c.code_artifacts, c.open_questions, c.key_decisions):
            if len(items) > 2:
                items.pop(0)
                break
        else:
            if c.summary:
                c.summary.pop()
            elif c.code_artifacts:
                c.code_artifacts.pop(0)
            elif c.open_questions:
                c.open_questions.pop(0)
            elif c.key_decisions:
                c.key_decisions.pop(0)
            else:
                return


def load(conn: sqlite3.Connection, conversation_id: str, from_index: int, to_index: int) -> Compaction | None:
    r = conn.execute(
        "SELECT id, summary, key_decisions, open_questions, code_artifacts, original_tokens, compacted_tokens,"
        " compression_ratio, created_at FROM conversation_compactions WHERE conversation_id = ?"
        " AND from_message_index = ? AND to_message_index = ? AND algorithm_version = ?",
        (conversation_id, from_index, to_index, ALGORITHM_VERSION),
    ).fetchone()
    if r is None:
        return None
    return Compaction(
        conversation_id,
        from_index,
        to_index,
        r[1].splitlines(),
        json.loads(r[2]),
        json.loads(r[3]),
        json.loads(r[4]),
        r[5],
        r[6],
        r[7],
        ALGORITHM_VERSION,
        r[0],
        r[8],
        cached=True,
    )


def save(conn: sqlite3.Connection, c: Compaction) -> None:
    conn.execute(
        "INSERT INTO conversation_compactions (id, conversation_id, from_message_index, to_message_index, summary,"
        " key_decisions, open_questions, code_artifacts, original_tokens, compacted_tokens, compression_ratio,"
        " algorithm_version, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT(conversation_id, from_message_index, to_message_index, algorithm_version) DO UPDATE SET"
        " id = excluded.id, summary = excluded.summary, key_decisions = excluded.key_decisions,"
        " open_questions = excluded.open_questions, code_artifacts = excluded.code_artifacts,"
        " original_tokens = excluded.original_tokens, compacted_tokens = excluded.compacted_tokens,"
        " compression_ratio = excluded.compression_ratio, created_at = excluded.created_at",
        (
            c.id,
            c.conversation_id,
            c.from_message_index,
            c.to_message_index,
            "\n".join(c.summary),
            json.dumps(c.key_decisions, ensure_ascii=False),
            json.dumps(c.open_questions, ensure_ascii=False),
            json.dumps(c.code_artifacts, ensure_ascii=False),
            c.original_tokens,
            c.compacted_tokens,
            c.compression_ratio,
            c.algorithm_version,
            c.created_at,
        ),
    )


def compaction_for(
    conn: sqlite3.Connection,
    conversation_id: str,
    turns: list[Turn],
    *,
    max_tokens: int | None = None,
    write: bool = True,
) -> Compaction:
    """The stored compaction of exactly these turns if it is still current, else a new one
    (stored when ``write``). A stored one made for a different size is remade when it does
    not fit ``max_tokens``."""
    stored = load(conn, conversation_id, turns[0].index, turns[-1].index)
    expected_id = f"{conversation_id[:16]}-{turns_digest(turns)}"
    if (
        stored is not None
        and stored.id == expected_id
        and (max_tokens is None or stored.compacted_tokens <= max_tokens)
    ):
        return stored
    c = compact(conversation_id, turns, max_tokens=max_tokens)
    if write:
        save(conn, c)
    return c
