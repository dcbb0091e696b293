"""Cheap content classification of units: category, natural language, programming language,
and whether a user's words ask something.

Every rule here is a word list or a precompiled pattern, because it runs once per unit during
extraction (hundreds of thousands of units per import). The rules are documented in
docs/UNITS.md; change both together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

CATEGORIES = (
    "instruction",
    "conversational",
    "technical",
    "planning",
    "creative",
    "personal",
    "factual",
)

# Letters and digits; "_" splits words so snake_case identifiers count by their parts.
WORD = re.compile(r"[^\W_]+")
# ASCII text takes a faster path to the same words: punctuation to spaces, then split.
_ASCII_PUNCTUATION = str.maketrans({c: " " for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"})
# Only the head of a long unit is read for classification: the first 600 characters
# (about 100 words) decide a category and a language about as well as the whole would, at
# a bounded cost (splitting and hashing words is most of it); identifiers are looked for
# in the first 400.
HEAD_CHARS = 600
IDENTIFIER_CHARS = 400


def words_of(text: str) -> list[str]:
    """Lowercase words (runs of letters and digits) of ``text``."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered.translate(_ASCII_PUNCTUATION).split()
    return WORD.findall(lowered)


# --- natural language -------------------------------------------------------------------
# Function words that are frequent in one language and rare in the others. Words shared by
# two languages ("es" de/es, "la" fr/es, "de" fr/es) are kept in both: they add to each
# side equally, so the exclusive words decide.
_STOPWORDS_BY_LANGUAGE: dict[str, frozenset[str]] = {
    "en": frozenset(
        "the and is are was were of to in that it for with as on be this you not or but have has had what "
        "how can i we they he she at by from an a my your do does did if so will would there their which "
        "about just me our been being when where why who also than then them these those its into could here "
        "should please thanks thank hello hi yes ok okay".split()
    ),
    "de": frozenset(
        "der die das und ist nicht ein eine einen ich du es sie wir mit auf für den dem zu von im wie auch "
        "sich was sind bei oder aber wenn noch nur nach werden wird kann haben hat uhr ihr mein dein wo "
        "warum wer welche dass".split()
    ),
    "fr": frozenset(
        "le la les et est un une des du de je tu il elle nous vous pas que qui pour dans sur avec ce cette "
        "mais ou au aux sont être avoir mon ton son ses comment pourquoi quoi quel quelle très c'est".split()
    ),
    "es": frozenset(
        "el la los las y es un una de que en por para con no se lo su como pero más yo tú está son del al "
        "muy qué cómo dónde cuándo porque también hay esta este".split()
    ),
}
_LANGUAGE_ORDER = ("en", "de", "fr", "es")
STOPWORDS: frozenset[str] = frozenset().union(*_STOPWORDS_BY_LANGUAGE.values())

_KANA = re.compile(r"[\u3040-\u30ff]")
HAN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")
HANGUL = re.compile(r"[\uac00-\ud7af]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")


def natural_language(text: str, words: Iterable[str] | None = None) -> str | None:
    """ISO 639-1 code of ``text``'s language, or None when nothing decides it.

    Scripts first (kana -> ja, Han without kana -> zh, Hangul -> ko, Cyrillic -> ru,
    Arabic -> ar) when that script makes up at least a fifth of the letters; then, for Latin
    text, whichever of en/de/fr/es has the most distinct function words (ties go to the
    earlier one).
    ``words`` are the lowercase words of ``text`` (a list or a set) when the caller already
    has them.
    """
    head = text[:HEAD_CHARS]
    if not head.isascii():
        latin = len(_LATIN_LETTER.findall(head))
        kana = len(_KANA.findall(head))
        han = len(HAN.findall(head))
        for code, count in (
            ("ja", kana + han if kana else 0),
            ("zh", han if not kana else 0),
            ("ko", len(HANGUL.findall(head))),
            ("ru", len(_CYRILLIC.findall(head))),
            ("ar", len(_ARABIC.findall(head))),
        ):
            if count and count * 4 >= latin:
                return code
    if words is None:
        words = words_of(head)
    present = words if isinstance(words, set | frozenset) else set(words)
    best, best_hits = None, 0
    for code in _LANGUAGE_ORDER:
        hits = len(_STOPWORDS_BY_LANGUAGE[code] & present)
        if hits > best_hits:
            best, best_hits = code, hits
    return best


# --- categories -------------------------------------------------------------------------
PHATIC = frozenset(
    "hi hello hey hiya thanks thank thx ty ok okay k yes no yeah yep yup nope sure great cool nice bye "
    "goodbye welcome awesome lol haha wow sorry good morning evening night bro dude perfect got it "
    "alright fine agreed exactly indeed cheers appreciate appreciated again there".split()
)
TECHNICAL = frozenset(
    "code function functions api apis database databases sql sqlite postgres postgresql python javascript "
    "typescript java rust golang server servers client query queries index schema deploy deployment docker "
    "kubernetes k8s git github bug bugs error errors exception stack compile compiler library libraries "
    "framework module modules package packages install config configuration algorithm json yaml html css "
    "http https url endpoint endpoints cache thread threads async await memory cpu gpu tensor vector vectors "
    "embedding embeddings token tokens tokenizer parser parse regex script scripts variable variables class "
    "method methods loop array string integer boolean null backend frontend repo repository commit branch "
    "merge build debug runtime latency throughput encryption hash hashes signature protocol network cli "
    "shell bash linux npm pip react node nodejs helm rollback wal transaction transactions migration "
    "migrations command commands terminal kernel binary compiler syntax sdk ui ux app apps software "
    "hardware data dataset pipeline neural llm llms prompt prompts inference onnx numpy pandas model models"
    "".split()
)
PLANNING = frozenset(
    "plan plans planning roadmap phase phases milestone milestones schedule scheduled deadline deadlines "
    "timeline todo priority priorities prioritize goal goals strategy steps sprint backlog agenda checklist "
    "task tasks launch mvp itinerary book booking prepare organize organise tomorrow weekly monthly quarter "
    "q1 q2 q3 q4 next".split()
)
# Words that name a creative form outright count double.
CREATIVE_FORMS = frozenset(
    "story stories poem poems poetry lyrics haiku limerick sonnet fiction screenplay fairytale joke jokes "
    "riddle fable".split()
)
CREATIVE = frozenset(
    "verse song songs novel character characters plot chapter fantasy imagine imagined tale tales fairy "
    "dragon rhyme metaphor scene villain heroine painting drawing sketch artist melody sculpture creative"
    "".split()
)
PERSONAL = frozenset(
    "family wife husband kids kid son daughter mom mum mother dad father sister brother friend friends "
    "girlfriend boyfriend partner birthday wedding feel feeling feelings felt love loved happy sad "
    "health sick doctor hobby hobbies weekend vacation holiday home pet dog cat school career grateful "
    "proud excited nervous anxious married baby parents grandma grandpa".split()
)
# Single letters and digits are word debris ("s" of "it's"), not content.
_SINGLE_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_NOT_CONTENT = STOPWORDS | _SINGLE_CHARACTERS
_FIRST_PERSON = frozenset("i me my mine myself i'm im".split())
# Identifiers and file names are strong technical signals that no word list catches. Each
# pattern only runs when a cheap substring test says it can match.
_SNAKE = re.compile(r"\b[a-z]+_[a-z0-9_]+")
_CAMEL = re.compile(r"[a-z][A-Z]")
# Starts with a literal so the regex engine can skip to the dots.
_FILE_NAME = re.compile(
    r"\.(?:py|js|ts|tsx|jsx|json|md|sql|sh|ya?ml|toml|rs|go|java|html|css|ps1|psd1|psm1|db|sqlite|txt|csv)\b"
)


# Letter shapes: a-z -> "a", A-Z -> "A", digits -> "0", "_" kept, everything else a space.
# Counting "aA" and "a_a" in the mapped text finds camelCase and snake_case at C speed.
_SHAPES = str.maketrans(
    {
        **{chr(c): " " for c in range(128)},
        **{chr(c): "a" for c in range(ord("a"), ord("z") + 1)},
        **{chr(c): "A" for c in range(ord("A"), ord("Z") + 1)},
        **{chr(c): "0" for c in range(ord("0"), ord("9") + 1)},
        "_": "_",
    }
)


def _identifiers(text: str) -> int:
    """camelCase humps, snake_case joints and file names (``x.py``) in ``text``."""
    if text.isascii():
        shapes = text.translate(_SHAPES)
        n = shapes.count("aA") + shapes.count("a_a") + shapes.count("a_0")
    else:
        n = len(_SNAKE.findall(text)) if "_" in text else 0
        n += len(_CAMEL.findall(text))
    if "." in text:
        n += len(_FILE_NAME.findall(text))
    return n


CODE_TYPES = frozenset({"code_snippet", "tool_use", "formula", "diagram"})


def category(text: str, unit_type: str, words: list[str], present: set[str] | None = None) -> str:
    """The category of a unit from its content (``words``: its lowercase words).

    First matching rule wins: ``technical`` for code, tool calls, formulas and diagrams;
    ``conversational`` for units with no content words, or at most 12 words of which at
    least one is phatic ("ok", "thanks", "hi") and at most 2 are other content words, none
    of them technical; otherwise scores per lexicon, counting distinct words (technical
    words + 2 per identifier, file name or inline code span; planning words; creative
    words, 2 for a named form such as "poem"; personal life words + 0.5 per first-person
    pronoun, counted only with a first-person pronoun or at least 3 life words) and the
    highest score at or above 2 wins, ties in the order technical, planning, creative,
    personal; ``factual`` when none reaches 2.
    """
    if unit_type in CODE_TYPES:
        return "technical"
    n = len(words)
    if present is None:
        present = set(words)
    content = present - _NOT_CONTENT
    if not content:
        return "conversational"
    if n <= 12:
        others = content - PHATIC
        if not present.isdisjoint(PHATIC) and len(others) <= 2 and others.isdisjoint(TECHNICAL):
            return "conversational"
    technical = len(content & TECHNICAL)
    if "`" in text:
        technical += 2 * (text.count("`") // 2)
    technical += 2 * _identifiers(text[:IDENTIFIER_CHARS])
    planning = len(content & PLANNING)
    creative = 2 * len(content & CREATIVE_FORMS) + len(content & CREATIVE)
    life = len(content & PERSONAL)
    first_person = len(present & _FIRST_PERSON)
    # Life words alone ("feel", "home") also occur in explanations; they need a speaker
    # talking about themselves, or many of them.
    personal = life + 0.5 * first_person if first_person or life >= 3 else 0
    best, best_score = "factual", 0.0
    for name, score in (
        ("technical", technical),
        ("planning", planning),
        ("creative", creative),
        ("personal", personal),
    ):
        if score >= 2 and score > best_score:
            best, best_score = name, score
    return best


# --- questions --------------------------------------------------------------------------
_QUESTION_STARTS = frozenset(
    "what why how when where who whom whose which can could would should is are do does did will shall "
    "may might was were isn't aren't don't doesn't didn't can't couldn't wouldn't shouldn't won't "
    "wie was warum wo wann wer welche welcher kannst können "
    "comment pourquoi quoi quel quelle quels quelles où quand qui "
    "qué cómo dónde cuándo quién cuál por".split()
)
# Requests are questions in imperative form ("tell me a joke", "explain X"): they are
# answered the same way, so they pair with the reply the same way.
_REQUEST_VERBS = frozenset(
    "explain describe tell show give list write create make compute calculate summarize summarise "
    "analyze analyse compare define find generate design build translate suggest recommend help outline "
    "draft fix debug convert turn rewrite implement plan recommend name identify estimate evaluate "
    "review check solve prove derive teach clarify elaborate detail suggest propose extract organize "
    "organise refactor optimize optimise add remove delete change update modify use replace rename move "
    "include apply set try run install configure continue expand shorten simplify improve redo "
    "summarise recommend".split()
)
_LEADING_MARKUP = re.compile(r"^[\s#>*_\-\d.)(\[\]]+")
_CJK_QUESTION = re.compile(r"[吗呢か]\s*[。.]?$|什么|怎么|为什么|如何|哪")


def is_question(text: str) -> bool:
    """Whether a user's words ask something: a question mark (ASCII or full width), an
    interrogative first word (en/de/fr/es), a request verb first ("explain", "tell me"),
    optionally after "please"/"can you", or a Chinese/Japanese question particle."""
    if "?" in text or "？" in text:
        return True
    head = _LEADING_MARKUP.sub("", text[:200]).lower()
    first = head.split(None, 2)
    if not first:
        return False
    word = first[0].strip(",.:;!")
    if word in ("please", "pls", "plz", "kindly") and len(first) > 1:
        word = first[1].strip(",.:;!")
    if word in _QUESTION_STARTS or word in _REQUEST_VERBS:
        return True
    return not head.isascii() and bool(_CJK_QUESTION.search(head))


# --- programming languages --------------------------------------------------------------
_LANGUAGE_ALIASES: dict[str, str | None] = {
    "py": "python",
    "python3": "python",
    "js": "javascript",
    "node": "javascript",
    "mjs": "javascript",
    "ts": "typescript",
    "sh": "bash",
    "shell": "bash",
    "zsh": "bash",
    "console": "bash",
    "shell-session": "bash",
    "ps1": "powershell",
    "pwsh": "powershell",
    "ps": "powershell",
    "yml": "yaml",
    "md": "markdown",
    "c++": "cpp",
    "cs": "csharp",
    "c#": "csharp",
    "rs": "rust",
    "golang": "go",
    "htm": "html",
    "text/html": "html",
    "application/vnd.ant.react": "jsx",
    "image/svg+xml": "svg",
    "text/markdown": "markdown",
    "application/vnd.ant.mermaid": "mermaid",
    "application/vnd.ant.code": None,
    "plaintext": "text",
    "txt": "text",
}
_CODE_GUESSES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("html", re.compile(r"^\s*(?:<!doctype html|<html\b)", re.IGNORECASE)),
    ("json", re.compile(r"^\s*[\[{]\s*(?:\"[^\"\n]*\"\s*:|[\[{\]}]|$)")),
    (
        "python",
        re.compile(
            r"^\s*(?:def \w+\(|class \w+[(:]|import \w+|from [\w.]+ import\b)|\bprint\(|\bself\.", re.M
        ),
    ),
    (
        "sql",
        re.compile(
            r"\b(?:SELECT\b[\s\S]*\bFROM|CREATE (?:TABLE|INDEX|VIEW)|INSERT INTO|ALTER TABLE|PRAGMA)\b", re.I
        ),
    ),
    (
        "powershell",
        re.compile(
            r"\b(?:Install-Module|Get-\w+|Set-\w+|New-\w+|Import-Module|Write-Host)\b|^\s*\$\w+\s*=", re.M
        ),
    ),
    ("rust", re.compile(r"\bfn \w+\s*[(<]|\blet mut\b|\bimpl\b|\bpub fn\b")),
    ("go", re.compile(r"^package \w+|\bfunc \w+\(", re.M)),
    (
        "javascript",
        re.compile(r"\bfunction\b|\bconst \w+\s*=|=>|console\.log|\bimport .* from ['\"]|require\("),
    ),
    ("java", re.compile(r"\bpublic (?:static )?(?:class|void)\b|System\.out\.")),
    ("c", re.compile(r"^#include\s*[<\"]", re.M)),
    (
        "bash",
        re.compile(
            r"^\s*(?:#!/(?:usr/)?bin/(?:env )?(?:ba)?sh|\$ |(?:sudo|npm|npx|pip|git|cd|ls|curl|docker|brew|apt|apt-get|mkdir|export|cargo|make|yarn|pnpm)\s)",
            re.M,
        ),
    ),
    ("css", re.compile(r"^\s*(?:[.#@*]?[\w-]+[\w\s.#:>,-]*)\{[^}]*:[^}]*;", re.M)),
    ("yaml", re.compile(r"^[\w-]+:\s*(?:\n\s+[\w-]+:|[^\n{]*$)", re.M)),
    ("xml", re.compile(r"^\s*<\?xml|^\s*<[A-Za-z][\w:-]*(?:\s[^>]*)?>", re.M)),
)


def code_language(declared: str | None, code: str) -> str | None:
    """The programming language of a code block: the declared one (aliases normalised,
    e.g. ``py`` -> ``python``, ``text/html`` -> ``html``), else a guess from the first
    1,000 characters (first matching pattern in a fixed order), else None."""
    if declared:
        d = declared.strip().lower()
        if d in _LANGUAGE_ALIASES:
            mapped = _LANGUAGE_ALIASES[d]
            if mapped:
                return mapped
        elif d:
            return d.split()[0]
    head = code[:1000]
    for name, pattern in _CODE_GUESSES:
        if pattern.search(head):
            return name
    return None
