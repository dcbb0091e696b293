"""Google Takeout "My Activity" for Gemini Apps (``My Activity.json``).

Google does not export Gemini conversations; it exports an activity log. Each row is one
prompt and (usually) Gemini's answer::

    {"header": "Gemini Apps", "title": "Prompted <the prompt>", "time": "<ISO 8601>",
     "titleUrl": "https://gemini.google.com/app/<thread id>",
     "safeHtmlItem": [{"html": "<the answer>"}], "attachedFiles": [...],
     "subtitles": [...], "products": ["Gemini Apps"]}

**Which rows are read.** A row is Gemini's when its ``header`` or ``products`` names Gemini
(or Bard; both survive translation: "Gemini アプリ", "Gemini-Apps") or its ``titleUrl`` host
is ``gemini.google.com``/``bard.google.com``. Other rows (a Search row in a mixed file) are
skipped and counted as ``not_gemini``. Gemini rows that record something other than a prompt
are skipped and counted: ``Gave feedback...`` (``feedback``), ``Created Gemini Canvas...``
(``canvas``), ``Selected preferred draft`` (``draft_selection``). Pass a
:class:`collections.Counter` as ``skipped`` to :meth:`GeminiActivityParser.parse` to receive
these counts. Every other Gemini row is a prompt. A row that is not a JSON object, or a
Gemini row without a ``title``, is a :class:`RecordError`; the other rows still import.

**The prompt.** ``title`` behind a localized prefix, which is stripped. Known prefixes
(:data:`PROMPT_PREFIXES`): English ``Prompted``, ``Asked``, ``Said``, ``Submitted query``;
German ``Eingegebener Prompt:``; Japanese ``送信したメッセージ:``, ``プロンプト:``; French
``Requête envoyée :``, ``Prompt envoyé :``, ``Vous avez demandé :``; Spanish ``Has dicho:``,
``Hiciste la petición``, ``Preguntado:``; Greek ``Υποβλήθηκε το ερώτημα``. The English,
German, Japanese, Greek and first two Spanish forms are the ones other parsers of real exports
strip; the French forms and ``Preguntado`` are unconfirmed guesses (Google documents none of
them, and a wrong guess costs nothing: it never matches). A title with an unknown
prefix is kept whole (nothing is lost or guessed), and its message is marked
``metadata["prompt_prefix"] = None``.

**The answer.** Each ``safeHtmlItem[].html`` is turned into typed parts
(:func:`vivim.capture.html_parts.html_to_parts`), concatenated in order (prose continuing
from one item into the next merges into one ``text`` part). A row without an answer gives the
user message alone. ``attachedFiles`` become ``attachment`` parts and
``imageFile`` an ``image`` reference on the user message (bytes are not in the export).
``subtitles`` and ``details`` have no stable meaning across exports; they are kept verbatim in
the user message's metadata rather than guessed into text.

**Grouping into conversations.** Rows whose ``titleUrl`` carries a thread id
(``gemini.google.com/app/<id>``, ``/app/c/<id>``, ``/gem/<gem>/<id>``) form one conversation
per thread, whose ``source_id`` is the thread id. Rows without one are grouped by time: sorted
ascending, a row joins the previous row's conversation when it falls on the same UTC day and
at most 30 minutes (:data:`SESSION_GAP`) after that previous row; otherwise it starts a new
one. Such a conversation's ``source_id`` is derived from its first row's time and prompt.
``metadata["grouping"]`` says which rule made it (``thread`` or ``time_gap``).

**Time.** Messages are ordered by ``time`` ascending (rows with equal times in the opposite of
file order, since Takeout lists newest first). A row whose ``time`` does not parse can only
be placed by its thread: with a thread id it joins that thread after its timed rows, with
``created_at`` None and the raw value in ``metadata["time_raw"]``; without one it cannot be
placed and becomes a :class:`RecordError` (code ``bad_time``).

**Ids.** Rows have no ids, and Takeout prepends new activity (positions shift between
exports), so message ids are derived from the row's normalised time, prompt and role: the
same row imports onto the same message every time.

**Memory.** Grouping needs every row, so the whole file is read before the first
conversation is yielded; only the few fields used are kept per row (the answer as its HTML
string, never a parsed tree). Activity files are megabytes, not gigabytes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from vivim.capture.base import ParseItem, Source
from vivim.capture.html_parts import html_to_parts
from vivim.capture.jsonstream import stream_json_records
from vivim.domain import parts as P
from vivim.domain.conversation import ParsedConversation, ParsedMessage, RecordError
from vivim.domain.ids import derived_id
from vivim.domain.parts import Part
from vivim.domain.times import parse_time, to_iso

PROVIDER = "gemini"
SESSION_GAP = timedelta(minutes=30)
TITLE_LIMIT = 80

PROMPT_PREFIXES: tuple[tuple[str, str], ...] = (
    ("en", "Prompted"),
    ("en", "Asked"),
    ("en", "Said"),
    ("en", "Submitted query"),
    ("de", "Eingegebener Prompt"),
    ("ja", "送信したメッセージ"),
    ("ja", "プロンプト"),
    ("fr", "Requête envoyée"),
    ("fr", "Prompt envoyé"),
    ("fr", "Vous avez demandé"),
    ("es", "Has dicho"),
    ("es", "Hiciste la petición"),
    ("es", "Preguntado"),
    ("el", "Υποβλήθηκε το ερώτημα"),
)
"""(language, prefix) pairs; a prefix is followed by a colon (ASCII or full-width) and/or space."""

_PREFIX_RES = tuple(
    (lang, re.compile(rf"^\s*{re.escape(prefix)}(?:\s*[:：]\s*|\s+)")) for lang, prefix in PROMPT_PREFIXES
)
_NOT_PROMPTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("feedback", re.compile(r"^\s*Gave feedback\b")),
    ("canvas", re.compile(r"^\s*Created Gemini Canvas\b")),
    ("draft_selection", re.compile(r"^\s*Selected preferred draft\b")),
)
_PRODUCT_MARKERS = ("gemini", "bard")
_GEMINI_HOSTS = frozenset({"gemini.google.com", "bard.google.com"})
_THREAD_ID = re.compile(r"^[A-Za-z0-9_\-]{3,128}$")

_UTF8_BOM = b"\xef\xbb\xbf"
_SNIFF_MARKERS = (
    re.compile(rb'"header"\s*:\s*"[^"]*(?:Gemini|Bard)'),
    re.compile(rb'"products"\s*:\s*\[[^\]]*(?:Gemini|Bard)'),
    re.compile(rb'"titleUrl"\s*:\s*"https?://(?:gemini|bard)\.google\.com'),
)
_ROW_KEY = re.compile(rb'"(?:title|time)"\s*:')


@dataclass(slots=True)
class _Row:
    """The fields of one prompt row that the conversation needs; HTML stays a string."""

    index: int
    time: datetime | None
    time_raw: str
    title: str
    prompt: str
    prefix_language: str | None
    thread_id: str | None
    url: str | None
    html: list[str]
    attachments: list[Part]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def time_key(self) -> str:
        return to_iso(self.time) if self.time is not None else self.time_raw


class GeminiActivityParser:
    name = "gemini"

    def sniff(self, head: bytes, source_name: str) -> bool:
        body = head[len(_UTF8_BOM) :] if head.startswith(_UTF8_BOM) else head
        if body.lstrip()[:1] != b"[" or not _ROW_KEY.search(body):
            return False
        return any(marker.search(body) for marker in _SNIFF_MARKERS)

    def parse(self, source: Source, *, skipped: Counter[str] | None = None) -> Iterator[ParseItem]:
        """Conversations grouped from the file's rows; ``skipped`` receives skip counts."""
        counts: Counter[str] = skipped if skipped is not None else Counter()
        rows: list[_Row] = []
        errors: list[RecordError] = []
        fatal: RecordError | None = None
        for item in stream_json_records(source, allow_single_object=False):
            if isinstance(item, RecordError):
                fatal = item
                break
            index, record = item
            try:
                outcome = _read_row(record, index, source.name)
            except Exception as exc:  # noqa: BLE001 - one odd row must not stop the import
                outcome = RecordError(
                    source=source.name,
                    record=f"row {index}",
                    message=f"row {index} could not be read: {type(exc).__name__}: {exc}",
                )
            if isinstance(outcome, _Row):
                rows.append(outcome)
            elif isinstance(outcome, RecordError):
                errors.append(outcome)
            else:
                counts[outcome] += 1
        yield from errors
        for group in _group(rows):
            try:
                yield _conversation(group)
            except Exception as exc:  # noqa: BLE001 - one odd group must not stop the import
                first = group[0]
                yield RecordError(
                    source=source.name,
                    record=f"row {first.index}",
                    message=(
                        f"conversation starting at row {first.index} could not be built: "
                        f"{type(exc).__name__}: {exc}"
                    ),
                )
        if fatal is not None:
            yield fatal


PARSER = GeminiActivityParser()


# --- rows ------------------------------------------------------------------------------------


def _read_row(record: Any, index: int, source_name: str) -> _Row | RecordError | str:
    """A prompt row, a RecordError, or the reason (a counter key) the row is skipped."""
    if not isinstance(record, dict):
        return RecordError(
            source=source_name,
            record=f"row {index}",
            message=f"row {index} is a JSON {type(record).__name__}, not an activity object",
        )
    if not _is_gemini(record):
        return "not_gemini"
    title = record.get("title")
    label = f"row {index}" + (f" {title[:60]!r}" if isinstance(title, str) else "")
    if not isinstance(title, str) or not title.strip():
        return RecordError(
            source=source_name, record=label, message=f"{label} has no title (no prompt); skipped"
        )
    for reason, pattern in _NOT_PROMPTS:
        if pattern.match(title):
            return reason

    raw_time = record.get("time")
    time = parse_time(raw_time) if isinstance(raw_time, str) else None
    url = record.get("titleUrl") if isinstance(record.get("titleUrl"), str) else None
    thread_id = thread_id_from_url(url)
    if time is None and thread_id is None:
        return RecordError(
            source=source_name,
            record=label,
            message=(
                f"{label}: time {raw_time!r} is not an ISO 8601 timestamp and the row has no "
                "thread id to place it by; skipped"
            ),
            code="bad_time",
        )

    prompt, language = strip_prompt_prefix(title)
    extra: dict[str, Any] = {"prompt_prefix": language}
    if time is None:
        extra["time_raw"] = raw_time
    for key in ("subtitles", "details"):
        if record.get(key):
            extra[key] = record[key]
    return _Row(
        index=index,
        time=time,
        time_raw=str(raw_time),
        title=title,
        prompt=prompt,
        prefix_language=language,
        thread_id=thread_id,
        url=url,
        html=_html_items(record.get("safeHtmlItem")),
        attachments=_attachments(record),
        extra=extra,
    )


def _is_gemini(record: dict[str, Any]) -> bool:
    names: list[str] = []
    if isinstance(record.get("header"), str):
        names.append(record["header"])
    products = record.get("products")
    if isinstance(products, list):
        names.extend(p for p in products if isinstance(p, str))
    if any(marker in name.casefold() for name in names for marker in _PRODUCT_MARKERS):
        return True
    url = record.get("titleUrl")
    return isinstance(url, str) and _host(url) in _GEMINI_HOSTS


def _host(url: str) -> str:
    try:
        return (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return ""


def strip_prompt_prefix(title: str) -> tuple[str, str | None]:
    """The prompt inside an activity title, and the language of the prefix removed."""
    for language, pattern in _PREFIX_RES:
        match = pattern.match(title)
        if match:
            return title[match.end() :].strip(), language
    return title.strip(), None


def thread_id_from_url(url: str | None) -> str | None:
    """The conversation id in a Gemini link, or None when the link names no conversation."""
    if not url or _host(url) not in _GEMINI_HOSTS:
        return None
    segments = [s for s in urlsplit(url.strip()).path.split("/") if s]
    if len(segments) >= 2 and segments[0] == "u" and segments[1].isdigit():
        segments = segments[2:]  # account switcher prefix: /u/1/app/<id>
    candidate: str | None = None
    if segments[:1] == ["app"] or segments[:1] == ["chat"]:
        rest = segments[1:]
        if rest[:1] == ["c"]:
            rest = rest[1:]
        candidate = rest[0] if rest else None
    elif segments[:1] == ["gem"] and len(segments) >= 3:
        candidate = segments[2]
    return candidate if candidate and _THREAD_ID.match(candidate) else None


def _html_items(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    out: list[str] = []
    for item in value:
        html = item.get("html") if isinstance(item, dict) else item
        if isinstance(html, str) and html.strip():
            out.append(html)
    return out


def _attachments(record: dict[str, Any]) -> list[Part]:
    out: list[Part] = []
    files = record.get("attachedFiles")
    for item in files if isinstance(files, list) else ():
        if isinstance(item, str):
            out.append(P.attachment(item))
        elif isinstance(item, dict) and isinstance(item.get("name") or item.get("fileName"), str):
            mime = item.get("mimeType")
            out.append(
                P.attachment(
                    item.get("name") or item.get("fileName"),
                    mime_type=mime if isinstance(mime, str) else None,
                )
            )
        else:
            out.append(P.unknown("gemini.attachedFile", item))
    image = record.get("imageFile")
    if isinstance(image, str) and image:
        out.append(P.image(image))
    return out


# --- grouping --------------------------------------------------------------------------------


def _order_key(row: _Row) -> tuple[bool, datetime, int]:
    # Untimed rows last; equal times oldest first (Takeout writes newest first).
    return (row.time is None, row.time or datetime.min, -row.index)


def _group(rows: list[_Row]) -> list[list[_Row]]:
    threads: dict[str, list[_Row]] = {}
    loose: list[_Row] = []
    for row in rows:
        if row.thread_id is not None:
            threads.setdefault(row.thread_id, []).append(row)
        else:
            loose.append(row)
    groups = [sorted(g, key=_order_key) for g in threads.values()]

    current: list[_Row] = []
    for row in sorted(loose, key=_order_key):
        previous = current[-1] if current else None
        if (
            previous is not None
            and previous.time is not None
            and row.time is not None
            and row.time.date() == previous.time.date()
            and row.time - previous.time <= SESSION_GAP
        ):
            current.append(row)
        else:
            current = [row]
            groups.append(current)
    groups.sort(key=lambda g: _order_key(g[0]))
    return groups


# --- conversations ---------------------------------------------------------------------------


def _conversation(rows: list[_Row]) -> ParsedConversation:
    first = rows[0]
    thread_id = first.thread_id
    messages: list[ParsedMessage] = []
    used_ids: set[str] = set()
    parent: str | None = None
    for row in rows:
        for message in _row_messages(row, parent, used_ids):
            messages.append(message)
            parent = message.source_id

    times = [r.time for r in rows if r.time is not None]
    metadata: dict[str, Any] = {"grouping": "thread" if thread_id else "time_gap", "rows": len(rows)}
    if thread_id is None:
        metadata["gap_minutes"] = int(SESSION_GAP.total_seconds() // 60)
    url = next((r.url for r in rows if r.url and thread_id_from_url(r.url)), None)
    return ParsedConversation(
        provider=PROVIDER,
        source_id=thread_id or derived_id(PROVIDER, first.time_key, first.prompt),
        title=_title(rows),
        messages=messages,
        source_url=_without_query(url) if url else None,
        created_at=min(times) if times else None,
        updated_at=max(times) if times else None,
        metadata=metadata,
    )


def _row_messages(row: _Row, parent: str | None, used_ids: set[str]) -> list[ParsedMessage]:
    user_parts: list[Part] = [P.text(row.prompt)] if row.prompt else []
    user_parts.extend(row.attachments)
    user = ParsedMessage(
        source_id=_unique_id(derived_id(PROVIDER, row.time_key, row.prompt, "user"), used_ids),
        role="user",
        parts=user_parts,
        parent_source_id=parent,
        created_at=row.time,
        metadata=dict(row.extra),
    )
    answer = _merge_text([part for html in row.html for part in html_to_parts(html)])
    if not answer:
        return [user]
    assistant = ParsedMessage(
        source_id=_unique_id(derived_id(PROVIDER, row.time_key, row.prompt, "assistant"), used_ids),
        role="assistant",
        parts=answer,
        parent_source_id=user.source_id,
        author="Gemini",
        created_at=row.time,
    )
    return [user, assistant]


def _merge_text(parts: list[Part]) -> list[Part]:
    # Takeout splits one answer over several safeHtmlItem entries; prose that continues
    # across the split reads as one text part.
    out: list[Part] = []
    for part in parts:
        if out and part["type"] == "text" and out[-1]["type"] == "text":
            out[-1] = P.text(out[-1]["text"] + "\n\n" + part["text"])
        else:
            out.append(part)
    return out


def _unique_id(candidate: str, used: set[str]) -> str:
    # Two rows with the same time and prompt would collide; the second gets a counted id.
    source_id, n = candidate, 1
    while source_id in used:
        n += 1
        source_id = derived_id(candidate, str(n))
    used.add(source_id)
    return source_id


def _title(rows: list[_Row]) -> str:
    prompt = next((r.prompt for r in rows if r.prompt), "")
    text = " ".join(prompt.split())
    if not text:
        name = next((a.get("name") for r in rows for a in r.attachments if a.get("name")), None)
        return str(name) if name else "Gemini conversation"
    return text if len(text) <= TITLE_LIMIT else text[: TITLE_LIMIT - 1].rstrip() + "…"


def _without_query(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
