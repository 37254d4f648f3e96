"""The HTTP reliability layer shared by the Omnitron client and the channel adapters.

- :mod:`service.net.retry` — retry policy and a retrying httpx transport;
- :mod:`service.net.redact` — removing secrets from headers, URLs and bodies;
- :mod:`service.net.exchange` — a redacted record of one request and its answer.
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
