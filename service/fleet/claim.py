"""Which worker runs a task right now, so a second delivery of it stands down.

Delivery is at least once: a task still running when Redis' visibility timeout passes
is delivered again, to this worker or another, while the first copy runs. The copy
that starts first claims the task (``cd:claim:<task>``, a short TTL its worker keeps
renewing); a later copy that finds the claim alive leaves the run alone. A claim
whose worker died (same host: its process is gone; elsewhere: the claim stops being
renewed and expires) is taken over: that copy is the redelivery that finishes the run.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass

import redis

from service.fleet.protocol import claim_key
from service.flows.lease import pid_alive, this_host

# Renewed every CancelWatch tick (about a second); gone this long after its worker died.
CLAIM_TTL_S = 15.0

_log = logging.getLogger(__name__)

# KEYS: claim. ARGV: expected value, TTL ms. Renew or delete only one's own claim.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Holder:
    """The worker a claim names."""

    host: str
    pid: int

    @classmethod
    def parse(cls, value: str) -> Holder | None:
        """``host pid token`` as stored; ``None`` for anything else."""
        parts = value.split(" ")
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]))

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}"


class TaskClaim:
    """This worker's claim on one task."""

    def __init__(self, client: redis.Redis, task_id: str, *, ttl_s: float = CLAIM_TTL_S) -> None:
        self._client = client
        self._key = claim_key(task_id)
        self._ttl_ms = int(ttl_s * 1000)
        self._value = f"{this_host()} {os.getpid()} {uuid.uuid4().hex}"
        self.took_over: Holder | None = None

    def take(self) -> Holder | None:
        """Claim the task; ``None`` when claimed, else the live worker that runs it.

        A claim left by a dead worker is taken over (``took_over`` names it): on this
        host at once when its process is gone, else once it expires — watched for up
        to its TTL, and given up as soon as its worker renews it.
        """
        last_ttl: int | None = None
        deadline = time.monotonic() + self._ttl_ms / 1000 + 2.0
        while True:
            if self._client.set(self._key, self._value, nx=True, px=self._ttl_ms):
                return None
            value = self._client.get(self._key)
            ttl = self._client.pttl(self._key)
            if value is None or ttl < 0:
                continue  # it expired between the calls: try again
            holder = Holder.parse(value)
            if holder is None:
                return Holder("?", 0)
            self.took_over = holder
            if holder.host == this_host():
                if pid_alive(holder.pid):
                    self.took_over = None
                    return holder
                # Gone for sure: take it over now rather than wait for its expiry.
                self._client.eval(_RELEASE, 1, self._key, value)
                continue
            if last_ttl is not None and ttl > last_ttl:
                self.took_over = None
                return holder  # renewed since we last looked: alive
            if time.monotonic() > deadline:
                self.took_over = None
                return holder
            last_ttl = ttl
            time.sleep(0.5)

    def renew(self) -> None:
        """Keep the claim alive (every tick of the run's watch)."""
        self._client.eval(_RENEW, 1, self._key, self._value, self._ttl_ms)

    def release(self) -> None:
        """Give the claim back (the run is over); never another worker's."""
        try:
            self._client.eval(_RELEASE, 1, self._key, self._value)
        except redis.RedisError as exc:
            _log.warning("could not release %s (it expires by itself): %s", self._key, exc)
