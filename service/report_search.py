"""What full-text search sees of an error report's raw request and response: values.

Raw exchanges are mostly JSON, and every order's JSON has keys such as ``city`` or
``email``: indexing them makes a search for ``city`` match every report. Only the
values are worth finding (order numbers, messages, field values), so keys — a quoted
string followed by ``:`` — are dropped, and so are JSON's brackets and separators. The
text need not be valid JSON (a raw request reads ``POST - URL - BODY``, and stored text
may be truncated); anything that is not a key is kept.
"""

from __future__ import annotations

import re

# A JSON object key: a double-quoted string (escapes allowed) followed by a colon.
_KEY = re.compile(r'"(?:[^"\\]|\\.)*"\s*:')
_PUNCTUATION = re.compile(r'[{}\[\],"]+')
_SPACE = re.compile(r"\s+")


def searchable_values(*texts: str) -> str:
    """The values of ``texts`` with their JSON keys and punctuation removed."""
    parts = []
    for text in texts:
        if text:
            values = _PUNCTUATION.sub(" ", _KEY.sub(" ", text))
            parts.append(_SPACE.sub(" ", values).strip())
    return " ".join(part for part in parts if part)
