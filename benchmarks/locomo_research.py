"""Retrieval research on LoCoMo: which offline recipe finds the evidence turns of a question?

For every question of categories 1-4 the turns of its conversation are ranked, and turn-level
recall@k is the fraction of the question's evidence turns found in the top k, averaged over
questions. Only offline CPU parts are used: SQLite FTS5 BM25 (stdlib sqlite3), numpy, and the
local all-MiniLM-L6-v2 embedder. No LLM, no network.

The script prints one row per variant (an ablation ladder from plain baselines to the chosen
recipe, plus ideas that did not help), per-conversation figures, a leave-conversations-out
tuning check (tune on one conversation, test on the other two), and with ``--timing`` the
query latency of the chosen recipe on a synthetic 100k-unit index.

    .venv/bin/python -m benchmarks.locomo_research [--data PATH] [--cache PATH] [--timing]

Embeddings are cached (keyed by model id and text) so reruns take seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from vivim.embed import MiniLMEmbedder

# Same convention as tests/shared.py: the shared folder sits beside the repository unless set.
SHARED = Path(os.environ.get("VIVIM_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))
DEFAULT_DATA = SHARED / "fixtures" / "locomo" / "locomo-dev3.json"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "vivim-locomo-emb.npz"
KS = (1, 5, 10, 20)

# Function words carry no topic: as OR terms they only drag in turns that share grammar
# with the question. The list is the usual English one plus question fillers ("kind",
# "likely") that LoCoMo-style questions are full of.
_STOPWORD_LIST = """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just me
    more most my myself no nor not now of off on once only or other our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then there these they this
    those through to too under until up very was we were what when where which while who whom why will
    with would you your yours yourself yourselves s t ll re ve d m o y also ever get got kind type
    likely might may many much one ones thing things"""
STOPWORDS = frozenset(_STOPWORD_LIST.split())
WORD = re.compile(r"[^\W_]+")


# ---------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class Turn:
    session: int
    dia_id: str
    speaker: str
    text: str
    caption: str
    when: datetime | None


@dataclass(frozen=True)
class Question:
    text: str
    evidence: tuple[str, ...]
    category: int


@dataclass
class Conversation:
    sample_id: str
    speakers: tuple[str, ...]
    turns: list[Turn]
    questions: list[Question]


def _session_time(raw: str) -> datetime | None:
    try:
        return datetime.strptime(raw, "%I:%M %p on %d %B, %Y")
    except ValueError:
        return None


def load_locomo(path: Path) -> list[Conversation]:
    out = []
    for sample in json.loads(path.read_text()):
        conv = sample["conversation"]
        numbers = sorted(int(k.split("_")[1]) for k in conv if re.fullmatch(r"session_\d+", k))
        turns = []
        for n in numbers:
            when = _session_time(conv.get(f"session_{n}_date_time", ""))
            for t in conv[f"session_{n}"]:
                # `query` (the image search phrase the dataset was built from) is left out on
                # purpose: a real vault has nothing like it. A generated caption it could have.
                turns.append(
                    Turn(n, t["dia_id"], t["speaker"], t.get("text", ""), t.get("blip_caption") or "", when)
                )
        questions = []
        for qa in sample["qa"]:
            if qa.get("category") not in (1, 2, 3, 4):
                continue
            # A few evidence entries hold two ids in one string ("D8:6; D9:17").
            evidence = tuple(e for raw in qa["evidence"] for e in re.split(r"[;,\s]+", raw) if e)
            if evidence:
                questions.append(Question(qa["question"], evidence, qa["category"]))
        speakers = tuple(dict.fromkeys([conv["speaker_a"], conv["speaker_b"]]))
        out.append(Conversation(sample["sample_id"], speakers, turns, questions))
    return out


# ---------------------------------------------------------------------------------------------
# What is indexed per turn


def own_text(t: Turn) -> str:
    return f"{t.text} {t.caption}".strip()


def speaker_text(t: Turn) -> str:
    photo = f" [shares a photo: {t.caption}]" if t.caption else ""
    return f"{t.speaker}: {t.text}{photo}"


def date_text(t: Turn) -> str:
    # Rendered the way questions name dates ("7 July 2023"), so month and year match as words.
    return f"{t.when.day} {t.when:%B} {t.when.year}" if t.when else ""


def neighbour(turns: list[Turn], i: int, offset: int) -> Turn | None:
    j = i + offset
    if 0 <= j < len(turns) and turns[j].session == turns[i].session:
        return turns[j]
    return None


def window_text(turns: list[Turn], i: int, offsets: Sequence[int]) -> str:
    return "\n".join(speaker_text(t) for o in offsets if (t := neighbour(turns, i, o)) is not None)


def neighbour_column(turns: list[Turn], i: int, offsets: Sequence[int]) -> str:
    return " ".join(own_text(t) for o in offsets if (t := neighbour(turns, i, o)) is not None)


# ---------------------------------------------------------------------------------------------
# Query processing


def query_terms(text: str, *, stop: bool) -> list[str]:
    words = [w.lower() for w in WORD.findall(text)]
    if stop:
        words = [w for w in words if w not in STOPWORDS]
    return list(dict.fromkeys(words))


def fts_or_query(text: str, *, stop: bool) -> str | None:
    terms = query_terms(text, stop=stop)
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms) if terms else None


def named_speakers(question: str, speakers: Sequence[str]) -> list[str]:
    return [s for s in speakers if re.search(rf"\b{re.escape(s)}\b", question, re.IGNORECASE)]


def strip_names(question: str, speakers: Sequence[str]) -> str:
    for s in speakers:
        question = re.sub(rf"\b{re.escape(s)}('s)?\b", " ", question, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", question).strip() or question


# ---------------------------------------------------------------------------------------------
# Embeddings, cached


class EmbeddingCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.model = MiniLMEmbedder()
        self.vectors: dict[str, np.ndarray] = {}
        if path.exists():
            with np.load(path) as z:
                self.vectors = dict(zip(z["keys"].tolist(), z["vecs"], strict=True))

    def _key(self, text: str) -> str:
        return hashlib.sha1(f"{self.model.model_id}\0{text}".encode()).hexdigest()

    def embed(self, texts: list[str]) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in self.vectors}
        if missing:
            started = time.perf_counter()
            vecs = self.model.embed(list(missing.values()))
            took = time.perf_counter() - started
            print(
                f"  embedded {len(missing)} texts in {took:.1f}s ({len(missing) / took:.0f}/s)",
                file=sys.stderr,
            )
            self.vectors.update(zip(missing, vecs, strict=True))
            self._save()
        if not keys:
            return np.zeros((0, self.model.dim), dtype=np.float32)
        return np.stack([self.vectors[k] for k in keys])

    def _save(self) -> None:
        keys = list(self.vectors)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(keys), vecs=np.stack([self.vectors[k] for k in keys]))
        tmp.replace(self.path)


def normalise_rows(m: np.ndarray) -> np.ndarray:
    return m / np.clip(np.linalg.norm(m, axis=1, keepdims=True), 1e-12, None)


# ---------------------------------------------------------------------------------------------
# Recipes


@dataclass(frozen=True)
class Recipe:
    name: str
    # Lexical side. Column weights of the FTS5 table; 0 leaves a column out of the score.
    lexical: bool = True
    tokenizer: str = "porter unicode61"
    stopwords: bool = True
    caption: bool = True
    w_near: float = 0.0  # the previous and the next turn of the same session
    w_far: float = 0.0  # the turns two away
    w_date: float = 0.0  # the session date rendered as "7 July 2023"
    # Dense side. unit: "text" (turn text), "speaker" ("Name: text [photo]"), "window"
    # (normalised speaker vector + a * (prev+this) vector + a * (this+next) vector).
    dense: bool = True
    unit: str = "window"
    window_weight: float = 0.7
    strip_query_names: bool = True
    strip_lexical_names: bool = False  # also drop participant names from the BM25 query
    # Fusion: "lexical", "dense", "rrf" or "linear".
    fusion: str = "linear"
    rrf_k: float = 60.0
    w_lex: float = 0.5  # linear: w_lex * bm25/max + (1 - w_lex) * min-max cosine
    speaker_boost: float = 0.0  # added when the question names exactly one participant
    candidates: int = 200
    # Extras measured but not kept.
    session_boost: float = 0.0  # + s * best fused score of the turn's session
    prf_beta: float = 0.0  # dense Rocchio: q + beta * mean(top prf_k fused unit vectors)
    prf_k: int = 5
    multi_vector_max: bool = False  # max cosine over three vectors instead of their sum
    # Neighbour context at query time instead of index time: BM25 over the turn's own columns,
    # then each candidate's score is also credited to the turns one and two away (same session).
    spread_near: float = 0.0
    spread_far: float = 0.0


CHOSEN = Recipe(
    name="CHOSEN = linear .5: LEX & DENSE + speaker boost .25",
    w_near=0.5,
    w_far=0.25,
    w_date=0.5,
    w_lex=0.5,
    speaker_boost=0.25,
    strip_lexical_names=True,
)


@dataclass
class ConversationIndex:
    """Everything precomputed for one conversation: what vivim would hold at index time."""

    conv: Conversation
    columns: dict[str, list[str]]  # candidate FTS5 columns, one text per turn
    vectors: dict[str, np.ndarray]  # unit variant -> (n, dim)
    query_vectors: dict[str, np.ndarray]  # "raw" / "stripped" -> (n_questions, dim)
    db: sqlite3.Connection = field(init=False)
    tables: dict[tuple[str, tuple[str, ...]], str] = field(init=False)
    speaker_of: np.ndarray = field(init=False)
    session_of: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.db = sqlite3.connect(":memory:")
        self.tables = {}
        self.speaker_of = np.array([t.speaker for t in self.conv.turns])
        self.session_of = np.array([t.session for t in self.conv.turns])

    def table(self, tokenizer: str, names: tuple[str, ...]) -> str:
        """An FTS5 table holding only ``names``: FTS5 counts a row for a term's IDF when any
        column holds it, so unused columns would change the scores of the ones in use."""
        key = (tokenizer, names)
        if key not in self.tables:
            table = f"fts{len(self.tables)}"
            cols = ", ".join(names)
            self.db.execute(f"CREATE VIRTUAL TABLE {table} USING fts5({cols}, tokenize='{tokenizer}')")
            self.db.executemany(
                f"INSERT INTO {table}(rowid, {cols}) VALUES (?{', ?' * len(names)})",
                [(i, *(self.columns[c][i] for c in names)) for i in range(len(self.conv.turns))],
            )
            self.tables[key] = table
        return self.tables[key]


def build_index(conv: Conversation, cache: EmbeddingCache) -> ConversationIndex:
    turns = conv.turns
    n = len(turns)
    columns = {
        "own": [own_text(t) for t in turns],
        "bare": [t.text for t in turns],
        "near": [neighbour_column(turns, i, (-1, 1)) for i in range(n)],
        "far": [neighbour_column(turns, i, (-2, 2)) for i in range(n)],
        "date": [date_text(t) for t in turns],
    }
    vectors = {
        "text": cache.embed([t.text for t in turns]),
        "speaker": cache.embed([speaker_text(t) for t in turns]),
        "prev": cache.embed([window_text(turns, i, (-1, 0)) for i in range(n)]),
        "next": cache.embed([window_text(turns, i, (0, 1)) for i in range(n)]),
    }
    query_vectors = {
        "raw": cache.embed([q.text for q in conv.questions]),
        "stripped": cache.embed([strip_names(q.text, conv.speakers) for q in conv.questions]),
    }
    return ConversationIndex(conv, columns, vectors, query_vectors)


def _lexical(ix: ConversationIndex, r: Recipe, qi: int) -> dict[int, float]:
    question = ix.conv.questions[qi].text
    if r.strip_lexical_names:
        question = strip_names(question, ix.conv.speakers)
    query = fts_or_query(question, stop=r.stopwords)
    if query is None:
        return {}
    used = [("own" if r.caption else "bare", 1.0), ("near", r.w_near), ("far", r.w_far), ("date", r.w_date)]
    used = [(name, w) for name, w in used if w > 0]
    table = ix.table(r.tokenizer, tuple(name for name, _ in used))
    weights = ", ".join(str(w) for _, w in used)
    rows = ix.db.execute(
        f"SELECT rowid, bm25({table}, {weights}) AS s FROM {table} WHERE {table} MATCH ? ORDER BY s LIMIT ?",
        (query, r.candidates),
    ).fetchall()
    # FTS5's bm25() is "lower is better" (negative).
    lex = {rowid: -score for rowid, score in rows}
    if r.spread_near or r.spread_far:
        lex = _spread(ix, lex, r.spread_near, r.spread_far)
    return lex


def _spread(ix: ConversationIndex, lex: dict[int, float], near: float, far: float) -> dict[int, float]:
    out = dict(lex)
    n = len(ix.conv.turns)
    for i, s in lex.items():
        for offset, w in ((-1, near), (1, near), (-2, far), (2, far)):
            j = i + offset
            if w and 0 <= j < n and ix.session_of[j] == ix.session_of[i]:
                out[j] = out.get(j, 0.0) + w * s
    return out


def unit_matrix(ix: ConversationIndex, r: Recipe) -> np.ndarray:
    v = ix.vectors
    if r.unit == "text":
        return v["text"]
    if r.unit == "speaker":
        return v["speaker"]
    return normalise_rows(v["speaker"] + r.window_weight * (v["prev"] + v["next"]))


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(scores))
    idx = np.argpartition(-scores, k - 1)[:k]
    return idx[np.argsort(-scores[idx], kind="stable")]


def _dense(ix: ConversationIndex, r: Recipe, qi: int, matrix: np.ndarray) -> dict[int, float]:
    q = ix.query_vectors["stripped" if r.strip_query_names else "raw"][qi]
    if r.multi_vector_max:
        v = ix.vectors
        scores = np.max(np.stack([v["speaker"] @ q, v["prev"] @ q, v["next"] @ q]), axis=0)
    else:
        scores = matrix @ q
    return {int(i): float(scores[i]) for i in _top(scores, r.candidates)}


def _fuse(r: Recipe, lex: dict[int, float], dense: dict[int, float]) -> dict[int, float]:
    if r.fusion == "lexical" or not r.dense:
        return dict(lex)
    if r.fusion == "dense" or not r.lexical:
        return dict(dense)
    if r.fusion == "rrf":
        fused: dict[int, float] = {}
        for ranked in (
            sorted(lex, key=lex.__getitem__, reverse=True),
            sorted(dense, key=dense.__getitem__, reverse=True),
        ):
            for rank, i in enumerate(ranked):
                fused[i] = fused.get(i, 0.0) + 1.0 / (r.rrf_k + rank + 1)
        return fused
    top_lex = max(lex.values(), default=0.0) or 1.0
    # Cosines are rescaled over the dense candidate list: its last member maps to 0, the best to 1,
    # so both sides span [0, 1] whatever the query's absolute similarity level.
    lo, hi = (min(dense.values()), max(dense.values())) if dense else (0.0, 1.0)
    span = (hi - lo) or 1.0
    return {
        i: r.w_lex * lex.get(i, 0.0) / top_lex
        + (1 - r.w_lex) * ((dense[i] - lo) / span if i in dense else 0.0)
        for i in lex.keys() | dense.keys()
    }


def rank(ix: ConversationIndex, r: Recipe, qi: int, matrix: np.ndarray | None) -> list[int]:
    """Indices of the top turns for question ``qi``, best first (the union of both candidate lists)."""
    lex = _lexical(ix, r, qi) if r.lexical else {}
    dense = _dense(ix, r, qi, matrix) if r.dense and matrix is not None else {}
    ranked = rank_with(ix, r, qi, lex, dense)
    if r.prf_beta and matrix is not None:
        q = ix.query_vectors["stripped" if r.strip_query_names else "raw"][qi]
        q2 = q + r.prf_beta * matrix[ranked[: r.prf_k]].mean(axis=0)
        scores = matrix @ (q2 / np.linalg.norm(q2))
        dense = {int(i): float(scores[i]) for i in _top(scores, r.candidates)}
        ranked = rank_with(ix, r, qi, lex, dense)
    return ranked


def rank_with(
    ix: ConversationIndex, r: Recipe, qi: int, lex: dict[int, float], dense: dict[int, float]
) -> list[int]:
    fused = _fuse(r, lex, dense)
    if r.speaker_boost:
        named = named_speakers(ix.conv.questions[qi].text, ix.conv.speakers)
        # Naming both participants says nothing about whose turn holds the answer.
        if len(named) == 1:
            for i in fused:
                if ix.speaker_of[i] == named[0]:
                    fused[i] += r.speaker_boost
    if r.session_boost:
        best: dict[int, float] = {}
        for i, s in fused.items():
            sess = int(ix.session_of[i])
            best[sess] = max(best.get(sess, 0.0), s)
        fused = {i: s + r.session_boost * best[int(ix.session_of[i])] for i, s in fused.items()}
    return sorted(fused, key=lambda i: (-fused[i], i))


# ---------------------------------------------------------------------------------------------
# Evaluation


@dataclass
class Result:
    recall: np.ndarray  # (n_questions, len(KS))
    categories: np.ndarray

    def mean(self) -> np.ndarray:
        return self.recall.mean(axis=0)

    def r10_by_category(self) -> dict[int, float]:
        return {
            c: float(self.recall[self.categories == c, 2].mean())
            for c in (1, 2, 3, 4)
            if (self.categories == c).any()
        }


def recall_at(ranked_ids: Sequence[str], evidence: Sequence[str]) -> list[float]:
    wanted = set(evidence)
    return [len(wanted & set(ranked_ids[:k])) / len(wanted) for k in KS]


def evaluate(indexes: Sequence[ConversationIndex], r: Recipe) -> Result:
    rows, cats = [], []
    for ix in indexes:
        matrix = unit_matrix(ix, r) if r.dense else None
        for qi, q in enumerate(ix.conv.questions):
            ranked = rank(ix, r, qi, matrix)
            rows.append(recall_at([ix.conv.turns[i].dia_id for i in ranked], q.evidence))
            cats.append(q.category)
    return Result(np.array(rows), np.array(cats))


def fmt(values: Sequence[float]) -> str:
    return "  ".join(f"{v:.3f}" for v in values)


VARIANTS: list[Recipe] = [
    # Baselines: one signal, plain text.
    Recipe(
        "bm25 plain: turn text, unicode61, all words OR",
        tokenizer="unicode61",
        stopwords=False,
        caption=False,
        dense=False,
        fusion="lexical",
    ),
    Recipe("bm25 + stopwords", tokenizer="unicode61", caption=False, dense=False, fusion="lexical"),
    Recipe("bm25 + stopwords + porter", caption=False, dense=False, fusion="lexical"),
    Recipe("bm25 + caption", dense=False, fusion="lexical"),
    Recipe("bm25 + near neighbours (.5)", w_near=0.5, dense=False, fusion="lexical"),
    Recipe("bm25 + near .5 + far .25", w_near=0.5, w_far=0.25, dense=False, fusion="lexical"),
    Recipe(
        "bm25 + near .5 + far .25 + date .5 (LEX)",
        w_near=0.5,
        w_far=0.25,
        w_date=0.5,
        dense=False,
        fusion="lexical",
    ),
    Recipe(
        "dense: turn text, raw question", lexical=False, unit="text", strip_query_names=False, fusion="dense"
    ),
    Recipe(
        "dense: 'Speaker: text [photo]', raw question",
        lexical=False,
        unit="speaker",
        strip_query_names=False,
        fusion="dense",
    ),
    Recipe("dense: window (.7), raw question", lexical=False, strip_query_names=False, fusion="dense"),
    Recipe("dense: 'Speaker: text', names stripped", lexical=False, unit="speaker", fusion="dense"),
    Recipe("dense: window (.7), names stripped (DENSE)", lexical=False, fusion="dense"),
    Recipe("dense: DENSE + speaker boost .1", lexical=False, fusion="dense", speaker_boost=0.1),
    Recipe(
        "rrf k=60: bm25+stop+porter & dense speaker/raw",
        caption=False,
        unit="speaker",
        strip_query_names=False,
        fusion="rrf",
    ),
    Recipe("rrf k=60: LEX & DENSE", w_near=0.5, w_far=0.25, w_date=0.5, fusion="rrf"),
    Recipe("rrf k=10: LEX & DENSE", w_near=0.5, w_far=0.25, w_date=0.5, fusion="rrf", rrf_k=10),
    Recipe(
        "rrf k=20: LEX & DENSE + speaker boost .02",
        w_near=0.5,
        w_far=0.25,
        w_date=0.5,
        fusion="rrf",
        rrf_k=20,
        speaker_boost=0.02,
    ),
    Recipe("linear .5: LEX & DENSE", w_near=0.5, w_far=0.25, w_date=0.5),
    replace(CHOSEN, name="linear .5: LEX & DENSE(raw question) + speaker .25", strip_query_names=False),
    replace(CHOSEN, name="linear .5: LEX & DENSE(unit=speaker) + speaker .25", unit="speaker"),
    replace(CHOSEN, name="linear .5: LEX(no date) & DENSE + speaker .25", w_date=0.0),
    replace(CHOSEN, name="linear .5: LEX(no near/far) & DENSE + speaker .25", w_near=0.0, w_far=0.0),
    CHOSEN,
    replace(CHOSEN, name="  CHOSEN + session boost .1 (not kept)", session_boost=0.1),
    replace(CHOSEN, name="  CHOSEN + dense PRF beta .3 k 5 (not kept)", prf_beta=0.3, prf_k=5),
    replace(CHOSEN, name="  CHOSEN with multi-vector max (not kept)", multi_vector_max=True),
    replace(CHOSEN, name="  CHOSEN, names kept in the BM25 query", strip_lexical_names=False),
    replace(CHOSEN, name="  cheaper: CHOSEN without the far column", w_far=0.0),
    replace(
        CHOSEN,
        name="  cheapest: own+date columns, query-time spread .5/.25",
        w_near=0.0,
        w_far=0.0,
        spread_near=0.5,
        spread_far=0.25,
    ),
    replace(CHOSEN, name="  CHOSEN with 100 candidates per side", candidates=100),
    replace(CHOSEN, name="  CHOSEN with 50 candidates per side", candidates=50),
]


# ---------------------------------------------------------------------------------------------
# Robustness: tune on one conversation, test on the others


GRID: dict[str, Sequence[float]] = {
    "w_lex": (0.3, 0.4, 0.5, 0.6, 0.7),
    "speaker_boost": (0.0, 0.1, 0.25, 0.4),
    "w_near": (0.3, 0.5, 0.7),
    "w_far": (0.0, 0.25),
    "w_date": (0.0, 0.5, 1.0),
    "window_weight": (0.5, 0.7, 1.0),
}


def _grid_scores(indexes: Sequence[ConversationIndex]) -> dict[tuple[float, ...], float]:
    """Mean R@10 over ``indexes`` for every point of GRID (lexical results reused across fusions)."""
    keys = list(GRID)
    per_point: dict[tuple[float, ...], list[float]] = {}
    for ix in indexes:
        lex_cache: dict[tuple[float, float, float], list[dict[int, float]]] = {}
        dense_cache: dict[float, list[dict[int, float]]] = {}
        for point in itertools.product(*GRID.values()):
            p = dict(zip(keys, point, strict=True))
            r = replace(CHOSEN, **p)
            lk = (r.w_near, r.w_far, r.w_date)
            if lk not in lex_cache:
                lex_cache[lk] = [_lexical(ix, r, qi) for qi in range(len(ix.conv.questions))]
            if r.window_weight not in dense_cache:
                m = unit_matrix(ix, r)
                dense_cache[r.window_weight] = [_dense(ix, r, qi, m) for qi in range(len(ix.conv.questions))]
            scores = per_point.setdefault(point, [])
            for qi, q in enumerate(ix.conv.questions):
                ranked = rank_with(ix, r, qi, lex_cache[lk][qi], dense_cache[r.window_weight][qi])
                scores.append(recall_at([ix.conv.turns[i].dia_id for i in ranked], q.evidence)[2])
    return {k: float(np.mean(v)) for k, v in per_point.items()}


def robustness(indexes: Sequence[ConversationIndex]) -> None:
    print("\nLeave-conversations-out: tune the grid on one conversation, test on the other two (R@10)")
    print(f"  grid: {dict(GRID)}")
    grids = {ix.conv.sample_id: _grid_scores([ix]) for ix in indexes}
    counts = {ix.conv.sample_id: len(ix.conv.questions) for ix in indexes}
    chosen_point = tuple(getattr(CHOSEN, k) for k in GRID)
    for tune in indexes:
        sid = tune.conv.sample_id
        best = max(grids[sid], key=grids[sid].__getitem__)
        others = [o.conv.sample_id for o in indexes if o is not tune]

        def held_out(point: tuple[float, ...], others: list[str] = others) -> float:
            total = sum(counts[o] for o in others)
            return sum(grids[o][point] * counts[o] for o in others) / total

        print(
            f"  tune on {sid}: best {dict(zip(GRID, best, strict=True))}\n"
            f"    tuned R@10 on {sid} {grids[sid][best]:.3f} | on {'+'.join(others)}: tuned {held_out(best):.3f}"
            f" vs CHOSEN {held_out(chosen_point):.3f}"
        )
    all_points = {
        p: sum(grids[s][p] * counts[s] for s in grids) / sum(counts.values())
        for p in grids[indexes[0].conv.sample_id]
    }
    values = sorted(all_points.values())
    print(
        f"  over all {len(values)} grid points (all conversations): min {values[0]:.3f}, median"
        f" {statistics.median(values):.3f}, max {values[-1]:.3f}; CHOSEN {all_points[chosen_point]:.3f}"
    )


# ---------------------------------------------------------------------------------------------
# Latency at 100k units


TIMED_LEXICAL: list[tuple[str, tuple[tuple[str, float], ...], tuple[float, float]]] = [
    # (label, FTS5 columns with bm25 weights, query-time spread to neighbours 1 and 2 away)
    ("own only (plain BM25, for reference)", (("own", 1.0),), (0.0, 0.0)),
    (
        "CHOSEN: own 1, near .5, far .25, date .5",
        (("own", 1.0), ("near", 0.5), ("far", 0.25), ("date", 0.5)),
        (0.0, 0.0),
    ),
    ("cheaper: own 1, near .5, date .5", (("own", 1.0), ("near", 0.5), ("date", 0.5)), (0.0, 0.0)),
    ("cheapest: own 1, date .5, spread .5/.25", (("own", 1.0), ("date", 0.5)), (0.5, 0.25)),
]


def timing(indexes: Sequence[ConversationIndex], units: int = 100_000, queries: int = 200) -> None:
    """CHOSEN (and cheaper lexical variants) against a synthetic index of ``units`` turns.

    The turns of the three conversations are repeated, so every term's posting list is about
    units/1451 times longer than in one conversation: a pessimistic stand-in for a real vault.
    Query embedding (one MiniLM call, a few ms) is not included.
    """
    print(
        f"\nLatency at {units} units (synthetic: real turns repeated, vectors jittered), {queries} questions"
    )
    rng = np.random.default_rng(0)
    src = [(ix, i) for ix in indexes for i in range(len(ix.conv.turns))]
    n_src = len(src)
    base = np.concatenate([unit_matrix(ix, CHOSEN) for ix in indexes])
    vecs = np.empty((units, base.shape[1]), dtype=np.float32)
    for start in range(0, units, n_src):
        n = min(n_src, units - start)
        vecs[start : start + n] = base[:n] + rng.normal(0, 0.02, (n, base.shape[1])).astype(np.float32)
    vecs = normalise_rows(vecs).astype(np.float32)
    speakers = np.array([ix.conv.turns[i].speaker for ix, i in src])[np.arange(units) % n_src]
    sessions = np.array(
        [
            ix.conv.turns[i].session + 1000 * k
            for k, ix in enumerate(indexes)
            for i in range(len(ix.conv.turns))
        ]
    )
    session_of = sessions[np.arange(units) % n_src] + 100_000 * (np.arange(units) // n_src)
    qs = [(ix, qi) for ix in indexes for qi in range(len(ix.conv.questions))][:queries]

    def ms(xs: list[float], p: float) -> str:
        return f"{np.percentile(xs, p) * 1000:.1f}"

    dense_t = []
    dense_hits: list[dict[int, float]] = []
    for ix, qi in qs:
        t0 = time.perf_counter()
        scores = vecs @ ix.query_vectors["stripped"][qi]
        dense_hits.append({int(i): float(scores[i]) for i in _top(scores, CHOSEN.candidates)})
        dense_t.append(time.perf_counter() - t0)
    print(
        f"  dense ({units}x{vecs.shape[1]} float32 matmul + top 200): median {ms(dense_t, 50)} ms, p95 {ms(dense_t, 95)} ms"
    )

    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "t.sqlite")
        for label, columns, (near, far) in TIMED_LEXICAL:
            names = tuple(c for c, _ in columns)
            weights = ", ".join(str(w) for _, w in columns)
            db.execute("DROP TABLE IF EXISTS f")
            db.execute(f"CREATE VIRTUAL TABLE f USING fts5({', '.join(names)}, tokenize='porter unicode61')")
            db.executemany(
                f"INSERT INTO f(rowid, {', '.join(names)}) VALUES (?{', ?' * len(names)})",
                [
                    (u, *(ix.columns[c][i] for c in names))
                    for u, (ix, i) in ((u, src[u % n_src]) for u in range(units))
                ],
            )
            db.commit()
            lex_t, total_t = [], []
            for (ix, qi), dense in zip(qs, dense_hits, strict=True):
                question = ix.conv.questions[qi].text
                t0 = time.perf_counter()
                fq = fts_or_query(strip_names(question, ix.conv.speakers), stop=True)
                rows = (
                    db.execute(
                        f"SELECT rowid, bm25(f, {weights}) AS s FROM f WHERE f MATCH ? ORDER BY s LIMIT 200",
                        (fq,),
                    ).fetchall()
                    if fq
                    else []
                )
                lex = {rid: -s for rid, s in rows}
                if near or far:
                    spread = dict(lex)
                    for i, s in lex.items():
                        for off, w in ((-1, near), (1, near), (-2, far), (2, far)):
                            j = i + off
                            if w and 0 <= j < units and session_of[j] == session_of[i]:
                                spread[j] = spread.get(j, 0.0) + w * s
                    lex = spread
                t1 = time.perf_counter()
                fused = _fuse(CHOSEN, lex, dense)
                named = named_speakers(question, ix.conv.speakers)
                if len(named) == 1:
                    for i in fused:
                        if speakers[i] == named[0]:
                            fused[i] += CHOSEN.speaker_boost
                sorted(fused, key=lambda i: (-fused[i], i))[:20]
                t2 = time.perf_counter()
                lex_t.append(t1 - t0)
                total_t.append(t2 - t0 + dense_t[len(total_t)])
            print(
                f"  BM25 {label}: median {ms(lex_t, 50)} ms, p95 {ms(lex_t, 95)} ms;"
                f" whole query (BM25 + dense + fusion) median {ms(total_t, 50)} ms, p95 {ms(total_t, 95)} ms"
            )
        db.close()


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--timing", action="store_true", help="also time CHOSEN on a synthetic 100k-unit index")
    ap.add_argument("--no-robustness", action="store_true")
    args = ap.parse_args(argv)

    convs = load_locomo(args.data)
    cache = EmbeddingCache(args.cache)
    indexes = [build_index(c, cache) for c in convs]
    n_q = sum(len(c.questions) for c in convs)
    print(
        f"LoCoMo {', '.join(c.sample_id for c in convs)}: {sum(len(c.turns) for c in convs)} turns, {n_q} questions (cat 1-4)"
    )
    print(f"\n{'variant':<62} {'R@1':>5}  {'R@5':>5}  {'R@10':>5}  {'R@20':>5}")
    chosen_result: Result | None = None
    for r in VARIANTS:
        res = evaluate(indexes, r)
        print(f"{r.name:<62} {fmt(res.mean())}")
        if r is CHOSEN:
            chosen_result = res
    assert chosen_result is not None
    print(f"\nCHOSEN recipe: {CHOSEN}")
    print(
        "CHOSEN R@10 by category: "
        + ", ".join(f"{c}: {v:.3f}" for c, v in chosen_result.r10_by_category().items())
    )
    for ix in indexes:
        print(
            f"CHOSEN on {ix.conv.sample_id} ({len(ix.conv.questions)} q): {fmt(evaluate([ix], CHOSEN).mean())}"
        )
    if not args.no_robustness:
        robustness(indexes)
    if args.timing:
        timing(indexes)


if __name__ == "__main__":
    main()
