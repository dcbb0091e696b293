"""Saved share pages (SingleFile or "Save page as") of ChatGPT, Claude, DeepSeek, Grok, Kimi,
z.ai and LMArena chats.

vivim never fetches a share link; the user saves the page and imports the file. The
provider is told by the address the saving tool wrote into the page (or its canonical/og:url
link, or failing both its markup), the file name plays no part. A page yields one
conversation; an HTML page with no readable conversation yields one RecordError.

``sniff`` only claims HTML whose first bytes name a supported provider, so ordinary web
pages are left alone; a page forced through this parser that belongs to no supported
provider gets a RecordError saying so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType

from vivim.capture.base import ParseItem, Source
from vivim.capture.share_pages import chatgpt, claude, deepseek, grok, kimi, lmarena, zai
from vivim.capture.share_pages.build import NoConversationFound
from vivim.capture.share_pages.page import PROVIDER_NAMES, SavedPage, sniff_provider
from vivim.domain.conversation import ParsedConversation, RecordError

__all__ = ["PARSER", "SharePageParser", "parse_html"]

_MODULES: dict[str, ModuleType] = {
    "chatgpt": chatgpt,
    "claude": claude,
    "deepseek": deepseek,
    "grok": grok,
    "kimi": kimi,
    "zai": zai,
    "lmarena": lmarena,
}
_SUPPORTED = ", ".join(PROVIDER_NAMES.values())


def _looks_like_html(head: str) -> bool:
    start = head.lstrip("\ufeff \t\r\n")[:1024].lower()
    return start.startswith(("<!doctype html", "<html", "<head", "<meta")) or "<html" in start


def parse_html(name: str, text: str) -> ParsedConversation | RecordError:
    """One saved page's text -> its conversation, or a RecordError saying why not."""
    page = SavedPage.from_text(name, text)
    provider = page.detect_provider()
    if provider is None:
        return RecordError(
            source=name,
            record="page",
            message=f"{name}: not a saved share page of a supported provider ({_SUPPORTED})",
            code="unsupported_page",
        )
    parse: Callable[[SavedPage], ParsedConversation] = _MODULES[provider].parse
    try:
        return parse(page)
    except NoConversationFound as exc:
        return RecordError(source=name, record=provider, message=f"{name}: {exc}", code="no_messages")
    except Exception as exc:  # one bad page must not stop a multi-file import
        return RecordError(
            source=name,
            record=provider,
            message=f"{name}: could not read this saved {PROVIDER_NAMES[provider]} page "
            f"({type(exc).__name__}: {exc})",
        )


class SharePageParser:
    name = "share-page"

    def sniff(self, head: bytes, source_name: str) -> bool:
        text = head.decode("utf-8", errors="replace")
        return _looks_like_html(text) and sniff_provider(text) is not None

    def parse(self, source: Source) -> Iterator[ParseItem]:
        try:
            with source.open() as f:
                data = f.read()
        except OSError as exc:
            yield RecordError(source=source.name, record="page", message=f"{source.name}: {exc}")
            return
        text = data.decode("utf-8", errors="replace")
        if not _looks_like_html(text):
            yield RecordError(
                source=source.name,
                record="page",
                message=f"{source.name}: not an HTML page",
                code="unsupported_page",
            )
            return
        yield parse_html(source.name, text)


PARSER = SharePageParser()
