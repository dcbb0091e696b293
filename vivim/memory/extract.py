"""Rule-based memory extraction: what users say about themselves, without any LLM.

Pure functions, no I/O. :func:`statements` takes the text of one user message and returns
the first-person statements in it that are worth remembering (who the user is, the people
and pets in their life, preferences, projects, goals), each typed and with a third-person
summary. The rules favour precision over recall:

- only the user's own prose: code blocks, inline code, quoted lines (``> ...``) and long
  paragraphs (pasted documents, whose "I" is someone else) are skipped;
- questions are skipped (a ``?``, or a sentence opening like one: "Do I ...", "Can I ...",
  "Don't you think I ..."), as are hypotheticals ("if", "imagine", "suppose", "let's say",
  "pretend", role play) and sentences addressed to the assistant ("I want you to ...");
- sentences that report quoted words ("She said "I live in Rome"") are skipped;
- a statement must open a clause with the user as subject ("I ...", "My ...").

:func:`normalise` gives the key duplicates are merged on; :func:`similar` decides whether
two differently worded statements are near duplicates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vivim.domain.canonical import content_hash

EXTRACTOR_VERSION = "memory-rules-1"
"""Bumped whenever a rule change would extract different memories from the same text."""

MAX_PARAGRAPH_CHARS = 700
"""Longer paragraphs are treated as pasted material, not the user speaking."""
MAX_SENTENCE_CHARS = 280
MIN_SENTENCE_WORDS = 3
NEAR_DUPLICATE_JACCARD = 0.8


@dataclass(frozen=True, slots=True)
class Statement:
    """One memory-worthy sentence found in a message."""

    content: str
    """The sentence as the user wrote it (whitespace tidied, ending with a full stop)."""
    summary: str
    """The same in the third person ("The user lives in Lisbon.")."""
    memory_type: str
    category: str
    importance: int
    key: str
    """Normalised text duplicates are merged on."""


# --- splitting -------------------------------------------------------------------------------
_FENCE = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)", re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+")
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
# A quoted passage of four or more words: reported speech, a citation, a title of a text.
_LONG_QUOTE = re.compile(r"[\"“«„]([^\"”»“]*?\s+){3,}[^\"”»“]*?[\"”»“]")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'"})


def sentences(text: str) -> list[str]:
    """The user's own sentences in a message text (code, quotes and pasted blocks removed)."""
    text = _INLINE_CODE.sub(" ", _FENCE.sub("\n\n", text.translate(_APOSTROPHES)))
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        lines = [ln for ln in paragraph.split("\n") if not ln.lstrip().startswith(">")]
        paragraph = "\n".join(lines).strip()
        if not paragraph or len(paragraph) > MAX_PARAGRAPH_CHARS:
            continue
        for raw in _SENTENCE_END.split(paragraph):
            s = _BULLET.sub("", raw).strip()
            if s:
                out.append(" ".join(s.split()))
    return out


# --- rejection -------------------------------------------------------------------------------
_QUESTION_OPENERS = re.compile(
    r"^(?:what|why|how|when|where|who|whom|whose|which|can|could|would|should|shall|will|do|does|did|"
    r"is|are|am|was|were|have|has|had|may|might|must|isn't|aren't|don't|doesn't|didn't|won't|"
    r"wouldn't|can't|couldn't|shouldn't|haven't|hasn't|wasn't|weren't|any idea|any thoughts|"
    r"tell me|i wonder|i was wondering|wondering)\b"
)
_HYPOTHETICAL = re.compile(
    r"\b(?:if|unless|suppose|supposing|imagine|imagining|pretend|pretending|hypothetical(?:ly)?|"
    r"let's say|lets say|say that|assume|assuming|what if|in a story|in the story|my character|"
    r"role-?play|roleplaying|fictional|fiction|would be|wish i|i wish)\b"
)
_TO_ASSISTANT = re.compile(r"\b(?:you|your|yours|yourself|u|chatgpt|claude|gemini|gpt)\b")
_REPORTED = re.compile(r"\b(?:said|says|told me|wrote|asked|quote)\b")
_LEADING_FILLER = re.compile(
    r"^(?:(?:hi|hello|hey|ok|okay|so|well|and|but|also|btw|by the way|fyi|oh|actually|"
    r"honestly|anyway|right|yes|yeah|no|great|thanks|thank you|cool|sure|fine)\b[\s,!.:;-]*)+"
)
_FIRST_PERSON = re.compile(r"(?<![\w'])(?:i|my|our|call me)(?![\w])", re.IGNORECASE)
_LEADING_FILLER_ANY_CASE = re.compile(_LEADING_FILLER.pattern, re.IGNORECASE)
_CLAUSE_START = r"(?:^|[,;:]\s*|\b(?:and|but|so|also|because|since|though)\s+)"


# --- what to keep: (memory type, category, importance, pattern) ------------------------------
def _p(body: str) -> str:
    return body


_RELATION_NOUNS = (
    r"wife|husband|partner|spouse|fianc[eé]e?|boyfriend|girlfriend|son|daughter|kids?|children|"
    r"mom|mum|mother|dad|father|parents|brother|sister|siblings?|grandma|grandmother|grandpa|"
    r"grandfather|friend|best friend|boss|manager|colleague|coworker|co-worker|roommate|"
    r"dog|cat|puppy|kitten|pet|horse"
)
_TASK_OBJECTS = (
    r"(?:know|ask|understand|see|check|find out|clarify|confirm|make sure|get|have|be able|do this|"
    r"do that|do it|try|figure|fix|debug|write (?:a|an|the|some) (?:function|script|query|regex|"
    r"program|class|method|test|prompt|email|letter|message|summary)|create (?:a|an|the) "
    r"(?:function|script|query|regex|program|class|table|file)|convert|translate|rewrite|change this|"
    r"improve this|summarize|summarise|add|remove|update|use (?:this|that|it))\b"
)
_RULES: tuple[tuple[str, str, int, str], ...] = (
    # identity
    ("IDENTITY", "name", 9, _p(r"(?:my name is|my name's|i am called|i'm called|call me|i go by) [a-z]")),
    ("IDENTITY", "age", 8, _p(r"i(?:'m| am) (?:\d{1,3}|[a-z]+-?[a-z]*) years? old\b")),
    ("IDENTITY", "location", 8, _p(r"i (?:live|grew up|was born|reside|have lived|moved) (?:in|to|near)\b")),
    ("IDENTITY", "location", 8, _p(r"i(?:'m| am) (?:originally )?(?:from|based in|living in)\b")),
    ("IDENTITY", "occupation", 8, _p(r"i (?:work|have worked|worked) (?:as|at|for|in)\b")),
    ("IDENTITY", "occupation", 8, _p(r"my (?:job|role|profession|occupation|title) is\b")),
    ("IDENTITY", "education", 7, _p(r"i (?:studied|graduated|majored|have a degree|hold a degree)\b")),
    ("IDENTITY", "language", 6, _p(r"i (?:speak|am fluent in|'m fluent in)\b")),
    ("IDENTITY", "experience", 7, _p(r"i(?:'ve| have) (?:\d+|a few|several|many|over \d+) years of\b")),
    ("IDENTITY", "experience", 6, _p(r"i(?:'ve| have) been (?:\w+ing) (?:for|since)\b")),
    ("IDENTITY", "occupation", 7, _p(r"i(?:'m| am) (?:a|an) (?!(?:bit|little|lot|fan|big|huge|total|complete|bad|good|great|quick|short)\b)[a-z-]{3,}")),
    ("RELATIONSHIP", "family", 7, _p(rf"my (?:{_RELATION_NOUNS})(?:'s name)?(?:,? [a-z]+,?)? (?:is|was|are|named|called|works|lives|loves|likes|has|turned)\b")),
    ("RELATIONSHIP", "family", 7, _p(rf"i have (?:a|an|one|two|three|four|five|\d+) (?:\w+ )?(?:{_RELATION_NOUNS}|dogs|cats|sons|daughters|brothers|sisters)\b")),
    ("RELATIONSHIP", "family", 7, _p(r"i(?:'m| am) (?:married|engaged|divorced|single|a (?:mom|mother|dad|father|parent))\b")),
    ("PREFERENCE", "likes", 6, _p(r"i(?:'m| am) (?:a (?:big |huge )?fan of|into|allergic to|(?:a )?vegetarian|(?:a )?vegan)\b")),
    ("PREFERENCE", "likes", 6, _p(r"my (?:favorite|favourite) [a-z]+(?: [a-z]+)? (?:is|are)\b")),
    ("PREFERENCE", "likes", 6, _p(r"i (?:really |absolutely |also |just |generally |much |truly |do )?(?:like|love|enjoy|prefer|adore)\b")),
    ("PREFERENCE", "dislikes", 6, _p(r"i (?:really |absolutely |also |just )?(?:hate|dislike|can't stand|cannot stand|avoid|don't like|do not like|don't enjoy|do not enjoy|never eat|don't eat|do not eat)\b")),
    ("PREFERENCE", "likes", 6, _p(r"i(?:'d| would) (?:rather|prefer)\b")),
    ("PREFERENCE", "habits", 5, _p(r"i (?:always|usually|typically|mostly|normally|often) (?:use|write|code|work|go|eat|drink|read|run|cook|listen|play|watch|prefer)\b")),
    ("PROJECT", "project", 7, _p(r"i(?:'m| am) (?:currently |now |still )?(?:working on|building|developing|writing|creating|designing|launching|running|maintaining)\b")),
    ("PROJECT", "project", 7, _p(r"(?:my|our) (?:current |side |new |latest |main )?(?:project|startup|app|company|business|thesis|book|novel|website|library|game|product|podcast|blog|channel)\b(?: [a-z0-9-]+){0,3} (?:is (?:a|an|about|called|named|built)|called|named|aims|helps|lets)\b")),
    ("PROJECT", "project", 7, _p(r"i (?:maintain|founded|co-founded|started|run|own) (?:a|an|the|my|our)\b")),
    ("GOAL", "goal", 7, _p(r"my (?:goal|dream|plan|aim|ambition|resolution|objective|target) (?:is|for)\b")),
    ("GOAL", "learning", 6, _p(r"i(?:'m| am) (?:currently |now )?(?:learning|training for|preparing for|saving for|saving up)\b")),
    ("GOAL", "goal", 7, _p(rf"i(?:'m| am) (?:going|planning|hoping|trying) to (?!{_TASK_OBJECTS})")),
    ("GOAL", "goal", 7, _p(rf"i (?:want|plan|intend|hope|aim|wish|would like|'d like|need) to (?!{_TASK_OBJECTS})")),
    ("FACTUAL", "tools", 5, _p(r"i (?:use|have been using|'ve been using|mainly use|mostly use) (?!(?:this|that|it|them)\b)[a-z]")),
    ("FACTUAL", "possessions", 5, _p(r"i (?:own|drive|ride) (?:a|an|my|two|\d+)\b")),
    # Life events, kept only with a time ("yesterday", "last week", "in 2023"): see classify().
    ("EPISODIC", "event", 4, _p(r"i (?:just |recently |finally |actually )?(?:went|visited|started|finished|joined|adopted|bought|moved|got|signed up|ran|painted|took|attended|graduated|married|met|traveled|travelled|won|lost|quit|launched|completed|passed|began|celebrated|volunteered|read|watched|made|had)\b")),
)
_TIME_MARKER = re.compile(
    r"\b(?:yesterday|today|tonight|this (?:morning|afternoon|evening|week|weekend|month|year|summer|spring|fall|autumn|winter)|"
    r"last (?:night|week|weekend|month|year|summer|spring|fall|autumn|winter|monday|tuesday|wednesday|thursday|friday|saturday|sunday)|"
    r"(?:a|two|three|few|couple of) (?:days|weeks|months|years) ago|recently|in (?:19|20)\d\d|on (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b"
)
# One pattern for all rules: the clause start is matched once per position and the rules are
# tried there in order (a dozen times faster than a search per rule). The group that matched
# names the rule.
_ANY_RULE = re.compile(_CLAUSE_START + "(?:" + "|".join(f"(?P<r{i}>{r[3]})" for i, r in enumerate(_RULES)) + ")")
# Words a rule itself supplies; a statement needs meaning beyond them ("I love to." has none).
_RULE_WORDS = frozenset(
    {"love", "like", "enjoy", "prefer", "adore", "hate", "dislike", "want", "hope", "plan", "going", "trying",
     "need", "wish", "aim", "intend", "planning", "hoping", "not", "use", "working", "building", "really", "rather",
     "always", "usually", "often", "would", "favorite", "goal", "dream", "called", "name", "went", "got", "had",
     "made", "just", "recently", "yesterday", "today", "last", "week", "ago"}
)


# --- third person ------------------------------------------------------------------------------
_PRONOUNS = {"mine": "theirs", "me": "them", "myself": "themselves", "i'm": "{s} is",
             "i've": "{s} has", "i'd": "{s} would", "i'll": "{s} will", "our": "their",
             "ours": "theirs", "we": "they", "us": "them", "we're": "they are", "we've": "they have"}
_ADVERBS = frozenset(
    {"really", "absolutely", "also", "just", "generally", "much", "truly", "always", "usually", "typically",
     "mostly", "normally", "often", "never", "currently", "now", "still", "mainly", "recently", "actually"}
)
_AUXILIARIES = {"am": "is", "have": "has", "do": "does", "don't": "doesn't", "haven't": "hasn't"}
_UNCHANGED = frozenset(
    {"was", "can't", "cannot", "would", "will", "should", "could", "had", "did", "didn't", "won't", "wasn't",
     "can", "may", "might", "must"}
)


def _third_person_verb(verb: str) -> str:
    if verb in _AUXILIARIES:
        return _AUXILIARIES[verb]
    if verb in _UNCHANGED or not verb.isalpha():
        return verb
    if re.search(r"(?:s|sh|ch|x|z|o)$", verb):
        return verb + "es"
    if re.search(r"[^aeiou]y$", verb):
        return verb[:-1] + "ies"
    return verb + "s"


def _split_word(word: str) -> tuple[str, str]:
    core = re.sub(r"[^\w']+$", "", word)
    return core, word[len(core) :]


def third_person(sentence: str, subject: str = "the user") -> str:
    """A mechanical rewrite in the third person: "I love hiking" -> "The user loves hiking"
    (or "Caroline loves hiking" with ``subject="Caroline"``, for a named speaker)."""
    words = sentence.split(" ")
    out: list[str] = []
    i = 0
    while i < len(words):
        core, tail = _split_word(words[i])
        low = core.lower()
        i += 1
        if low == "i":
            out.append(subject + tail)
            # Adverbs between the subject and its verb stay; the verb after them agrees.
            while i < len(words) and _split_word(words[i])[0].lower() in _ADVERBS:
                out.append(words[i])
                i += 1
            if i < len(words) and not tail:
                vcore, vtail = _split_word(words[i])
                out.append(_third_person_verb(vcore.lower()) + vtail)
                i += 1
        elif low == "my":
            out.append((f"{subject}'s" if not out else "their") + tail)
        elif low in _PRONOUNS:
            out.append(_PRONOUNS[low].replace("{s}", subject) + tail)
        else:
            out.append(words[i - 1])
    text = " ".join(out)
    return text[:1].upper() + text[1:]


# --- normalising and comparing ---------------------------------------------------------------
_CONTRACTIONS = (
    (r"\bi'm\b", "i am"), (r"\bi've\b", "i have"), (r"\bi'd\b", "i would"), (r"\bi'll\b", "i will"),
    (r"\bcan't\b", "cannot"), (r"\bwon't\b", "will not"), (r"\bn't\b", " not"), (r"n't\b", " not"),
    (r"\bit's\b", "it is"), (r"\bthat's\b", "that is"), (r"\bname's\b", "name is"), (r"\bfavourite\b", "favorite"),
)
_FILLER = frozenset(
    {"really", "actually", "just", "also", "very", "so", "totally", "absolutely", "currently", "basically",
     "honestly", "truly", "quite", "pretty", "definitely", "now", "still", "the", "a", "an"}
)
_FUNCTION_WORDS = frozenset(
    {"i", "am", "is", "are", "was", "were", "my", "me", "to", "of", "in", "on", "at", "for", "and", "with",
     "have", "has", "be", "been", "it", "that", "this", "as", "by", "from", "we", "our", "do", "would", "will"}
)


def normalise(sentence: str) -> str:
    """The merge key: lower case, contractions expanded, punctuation and filler words dropped."""
    s = sentence.lower().translate(_APOSTROPHES)
    for pattern, repl in _CONTRACTIONS:
        s = re.sub(pattern, repl, s)
    s = _LEADING_FILLER.sub("", s)
    words = [w for w in re.findall(r"[a-z0-9+#]+", s) if w not in _FILLER]
    return " ".join(words)


def key_hash(key: str) -> str:
    return content_hash("memory:" + key)


def content_words(key: str) -> frozenset[str]:
    """The words that carry a statement's meaning (negation kept: "not" changes it)."""
    return frozenset(w for w in key.split() if w not in _FUNCTION_WORDS)


def similar(a: frozenset[str], b: frozenset[str]) -> bool:
    """Near duplicates: the meaning words overlap almost entirely (Jaccard >= 0.8)."""
    if not a or not b:
        return False
    return len(a & b) / len(a | b) >= NEAR_DUPLICATE_JACCARD


# --- the extractor ---------------------------------------------------------------------------
def _rejected(low: str) -> bool:
    if "?" in low or _QUESTION_OPENERS.match(low):
        return True
    if _HYPOTHETICAL.search(low) or _TO_ASSISTANT.search(low) or _REPORTED.search(low):
        return True
    return bool(_LONG_QUOTE.search(low))


def classify(sentence: str) -> tuple[str, str, int] | None:
    """(memory type, category, importance) of a first-person statement, or None."""
    low = sentence.lower().translate(_APOSTROPHES)
    low = _LEADING_FILLER.sub("", low)
    if len(low.split()) < MIN_SENTENCE_WORDS or len(sentence) > MAX_SENTENCE_CHARS:
        return None
    if _rejected(low):
        return None
    hit = _ANY_RULE.search(low)
    if hit is None or hit.lastgroup is None:
        return None
    memory_type, category, importance, _body = _RULES[int(hit.lastgroup[1:])]
    if memory_type == "EPISODIC" and not _TIME_MARKER.search(low):
        return None  # "I made pasta" is chatter; "I adopted a dog last week" is an event
    return memory_type, category, importance


def _tidy(sentence: str) -> str:
    s = sentence.strip().rstrip(",;:- ")
    s = _LEADING_FILLER_ANY_CASE.sub("", s).strip() or s
    s = s[:1].upper() + s[1:]
    if s and s[-1] not in ".!":
        s += "."
    return s


def statements(text: str, speaker: str | None = None) -> list[Statement]:
    """Memory-worthy statements in one user message, in order, without repeats. A named
    ``speaker`` (a message author, as in multi-party transcripts) is the summaries' subject."""
    if not _FIRST_PERSON.search(text):
        return []  # most assistant-directed messages never speak of the user: skip them cheaply
    out: list[Statement] = []
    seen: set[str] = set()
    for sentence in sentences(text):
        typed = classify(sentence)
        if typed is None:
            continue
        content = _tidy(sentence)
        key = normalise(content)
        if not key or key in seen or not content_words(key) - _RULE_WORDS:
            continue
        seen.add(key)
        memory_type, category, importance = typed
        summary = third_person(content, speaker) if speaker else third_person(content)
        out.append(Statement(content, summary, memory_type, category, importance, key))
    return out


__all__ = [
    "EXTRACTOR_VERSION",
    "Statement",
    "classify",
    "content_words",
    "key_hash",
    "normalise",
    "sentences",
    "similar",
    "statements",
    "third_person",
]
