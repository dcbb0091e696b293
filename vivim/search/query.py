"""Turning what a person typed into words that are safe to search for.

FTS5 has its own syntax (quotes, ``*``, ``NEAR``, ``AND``/``OR``/``NOT``, ``-``, column
filters). User queries are never passed through: they are cut into word tokens, stopwords
are dropped (they match nearly every unit and only cost time), and the search engine
quotes each remaining token as a literal string.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been before
    being below between both but by can can't cannot could couldn't did didn't do does doesn't doing
    don't down during each few for from further get got had hadn't has hasn't have haven't having he
    he'd he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if in
    into is isn't it it's its itself just let's like me more most mustn't my myself no nor not of
    off on once only or other ought our ours ourselves out over own really same shall shan't she
    she'd she'll she's should shouldn't so some such than that that's the their theirs them
    themselves then there there's these they they'd they'll they're they've this those through to
    too under until up very was wasn't we we'd we'll we're we've were weren't what what's when
    when's where where's which while who who's whom why why's with won't would wouldn't you you'd
    you'll you're you've your yours yourself yourselves
    """.split()
)


def terms(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Lower-cased word tokens, stopwords removed, duplicates removed, order kept."""
    seen: dict[str, None] = {}
    for m in _WORD.finditer(text.lower()):
        w = m.group(0).replace("’", "'")
        if not keep_stopwords and (w in STOPWORDS or len(w) == 1 and not w.isdigit()):
            continue
        seen.setdefault(w, None)
    return list(seen)
