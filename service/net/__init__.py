"""The HTTP reliability layer shared by the Omnitron client and the channel adapters.

- :mod:`service.net.retry` — retry policy and a retrying httpx transport;
- :mod:`service.net.body` — reading an answer within a size limit and a deadline;
- :mod:`service.net.failures` — failures no retry mends (certificate, size, a slow
  answer) and their one-line messages;
- :mod:`service.net.paging` — noticing a paged listing that does not advance;
- :mod:`service.net.redact` — removing secrets from headers, URLs, bodies and logs;
- :mod:`service.net.exchange` — a redacted, bounded record of one request and its answer.
"""

from service.net.exchange import RawExchange
from service.net.redact import redact_body, redact_headers, redact_url
from service.net.retry import RetryPolicy, RetryTransport

__all__ = [
    "RawExchange",
    "RetryPolicy",
    "RetryTransport",
    "redact_body",
    "redact_headers",
    "redact_url",
]
