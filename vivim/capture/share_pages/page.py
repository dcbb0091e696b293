"""A saved page: its parsed tree, where it was saved from, and which provider made it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser

PROVIDER_NAMES = {
    "chatgpt": "ChatGPT",
    "claude": "Claude",
    "deepseek": "DeepSeek",
    "grok": "Grok",
    "kimi": "Kimi",
    "zai": "z.ai",
    "lmarena": "LMArena",
}

_HOSTS: dict[str, tuple[str, ...]] = {
    "chatgpt": ("chatgpt.com", "chat.openai.com"),
    "claude": ("claude.ai",),
    "deepseek": ("deepseek.com",),
    "grok": ("grok.com",),
    "kimi": ("kimi.com", "kimi.moonshot.cn"),
    "zai": ("z.ai",),
    "lmarena": ("lmarena.ai", "lmarena.com"),
}

# Markup each provider's share page is built from, for pages saved without any URL in them.
_MARKERS: tuple[tuple[str, str], ...] = (
    ("chatgpt", "[data-message-author-role]"),
    ("claude", "[data-testid=user-message], .font-claude-response"),
    ("deepseek", ".ds-message"),
    ("grok", "div[id^=response-] .message-bubble"),
    ("kimi", ".segment-user, .segment-assistant"),
    ("zai", ".chat-user, .chat-assistant"),
    ("lmarena", "[aria-roledescription=slide] .prose"),
)

# SingleFile writes the address at the top; browsers' "Save page as" write "saved from url".
_SINGLEFILE_URL = re.compile(r"Page saved with SingleFile\s*(?:-->)?\s*url:\s*(\S+)", re.I)
_SAVED_FROM_URL = re.compile(r"<!--\s*saved from url=\(\d+\)(\S+?)\s*-->", re.I)
# Attribute values may be unquoted in SingleFile's minified output.
_ATTR = r"""(?:"([^"]*)"|'([^']*)'|([^\s>]+))"""
_CANONICAL = re.compile(r"<link\b[^>]*\brel=(?:\"canonical\"|'canonical'|canonical)[^>]*>", re.I)
_OG_URL = re.compile(r"<meta\b[^>]*\bproperty=(?:\"og:url\"|'og:url'|og:url)[^>]*>", re.I)
_HREF = re.compile(r"\bhref=" + _ATTR, re.I)
_CONTENT = re.compile(r"\bcontent=" + _ATTR, re.I)


def provider_for_url(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return None
    for provider, hosts in _HOSTS.items():
        if any(host == h or host.endswith("." + h) for h in hosts):
            return provider
    return None


def saved_url(text: str) -> str | None:
    """The address a page was saved from, from the comment the saving tool wrote."""
    head = text[:8192]
    m = _SINGLEFILE_URL.search(head) or _SAVED_FROM_URL.search(head)
    return m.group(1) if m else None


def head_urls(text: str) -> list[str]:
    """Saved-from, canonical and og:url addresses found by scanning raw markup (for sniffing)."""
    urls: list[str] = []
    first = saved_url(text)
    if first:
        urls.append(first)
    for tag_re, attr_re in ((_CANONICAL, _HREF), (_OG_URL, _CONTENT)):
        for tag in tag_re.finditer(text):
            m = attr_re.search(tag.group(0))
            if m:
                urls.append(next(g for g in m.groups() if g is not None))
    return urls


def sniff_provider(head: str) -> str | None:
    """Provider named by the addresses in the first bytes of a page, or by its markup."""
    for url in head_urls(head):
        provider = provider_for_url(url)
        if provider:
            return provider
    for provider, marker in (
        ("chatgpt", "data-message-author-role"),
        ("claude", "font-claude-response"),
    ):
        if marker in head:
            return provider
    return None


def strip_query(url: str) -> str:
    """A share address without query and fragment: they carry view state (``?rid=``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    return urlunsplit((parts.scheme or "https", parts.netloc, parts.path, "", ""))


@dataclass
class SavedPage:
    name: str
    """What to call the page in messages (its path)."""
    tree: LexborHTMLParser
    url: str | None
    """The address the page was saved from (SingleFile / browser comment), if written."""
    _meta: dict[str, list[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_text(cls, name: str, text: str) -> SavedPage:
        page = cls(name=name, tree=LexborHTMLParser(text), url=saved_url(text))
        for meta in page.tree.css("meta"):
            key = meta.attributes.get("property") or meta.attributes.get("name")
            value = meta.attributes.get("content")
            if key and value is not None:
                page._meta.setdefault(key.lower(), []).append(value)
        return page

    def meta(self, key: str) -> list[str]:
        return self._meta.get(key.lower(), [])

    def canonical(self) -> str | None:
        link = self.tree.css_first('link[rel="canonical"]')
        return (link.attributes.get("href") or None) if link is not None else None

    def candidate_urls(self) -> list[str]:
        return [u for u in (self.url, self.canonical(), *self.meta("og:url")) if u]

    def share_url(self, provider: str) -> str | None:
        """The provider's share address for this page, without query or fragment.

        The saved-from address comes first, but only if it is on the provider's host: a page
        saved through a proxy or a local file keeps its canonical link.
        """
        fallback = None
        for url in self.candidate_urls():
            if provider_for_url(url) != provider:
                continue
            path = urlsplit(url).path.strip("/")
            if path:
                return strip_query(url)
            fallback = fallback or strip_query(url)
        return fallback

    def title_text(self) -> str:
        # Only the document's own title: inline SVG icons carry <title>s of their own.
        node = self.tree.css_first("head title")
        return node.text(deep=True).strip() if node is not None else ""

    def first_meta(self, *keys: str) -> str | None:
        for key in keys:
            for value in self.meta(key):
                if value.strip():
                    return value.strip()
        return None

    def detect_provider(self) -> str | None:
        for url in self.candidate_urls():
            provider = provider_for_url(url)
            if provider:
                return provider
        for provider, selector in _MARKERS:
            if self.tree.css_first(selector) is not None:
                return provider
        site = (self.first_meta("og:site_name", "og:title") or self.title_text()).lower()
        for provider, display in PROVIDER_NAMES.items():
            if display.lower() in site:
                return provider
        return None


def share_id(url: str | None) -> str | None:
    """The last path segment of a share address: the provider's id for the shared chat."""
    if not url:
        return None
    segments = [s for s in urlsplit(url).path.split("/") if s]
    return segments[-1] if segments else None
