"""Connection settings of an Omnitron client."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from service.net.retry import RetryPolicy


class OmnitronSettings(BaseModel):
    """Where Omnitron is, who we are there, and how patiently we talk to it.

    The password is a :class:`~pydantic.SecretStr`: it shows as ``**********`` in
    reprs, logs and dumps.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = Field(description="Omnitron's root URL, e.g. https://omnitron.example.com/")
    username: str
    password: SecretStr
    channel_id: int = Field(gt=0)
    catalog_id: int = Field(gt=0)
    timeout: float = Field(
        30.0, gt=0, description="seconds per try (connect, read, write, the whole answer)"
    )
    # Room for every worker of a run (at most 16) and the outbox beside them.
    pool_size: int = Field(20, ge=1, description="kept-alive connections to Omnitron")
    max_attempts: int = Field(5, ge=1, description="tries per request, the first included")
    base_delay: float = Field(0.5, ge=0, description="first backoff wait, seconds")
    max_delay: float = Field(10.0, ge=0, description="longest backoff wait, seconds")
    deadline: float = Field(120.0, gt=0, description="overall seconds per request, retries incl.")
    jitter: bool = True
    page_size: int = Field(100, ge=1, le=1000)
    max_pages: int = Field(1000, ge=1, description="a listing longer than this is an error")
    max_response_mb: int = Field(20, ge=1, description="a longer answer is refused, not read")
    # A run stops only when this many requests in a row failed over at least this long
    # (service/omnitron/breaker.py); a single failure is retried, never the end of a run.
    breaker_failures: int = Field(8, ge=1, description="failed requests in a row that stop a run")
    breaker_window: float = Field(
        40.0, ge=0, description="seconds those failed requests must span to stop a run"
    )

    @field_validator("base_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value if value.endswith("/") else value + "/"

    @property
    def api_url(self) -> str:
        """The API root: ``{base_url}api/v1/``."""
        return f"{self.base_url}api/v1/"

    def retry_policy(self) -> RetryPolicy:
        """The :class:`RetryPolicy` these settings describe."""
        return RetryPolicy(
            max_attempts=self.max_attempts,
            base_delay=self.base_delay,
            max_delay=self.max_delay,
            deadline=self.deadline,
            jitter=self.jitter,
        )
