"""The run leases of a ``workers`` profile, kept in the fleet's Redis.

Each lease is one key, :func:`~service.fleet.protocol.lease_key`, whose value is its
holder as JSON (token, flow, pid, host, run_id, started_at, heartbeat_at), so a
refused run names who holds it. Taking, refreshing and releasing are Lua scripts, so
each is atomic across every machine of the fleet: a take sets all names or none, and
only the token that holds a lease refreshes or releases it.

A holder is alive while its key lives: every take and refresh sets its expiry to the
TTL (:data:`~service.flows.lease.LEASE_TTL_S`), so the lease of a worker that died on
any machine frees by itself. A holder on this machine whose process is gone is taken
over at once, as with the store's leases.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import redis
from redis.commands.core import Script

from service.fleet.protocol import lease_key
from service.flows.lease import LEASE_TTL_S, LeasesUnreachable, pid_alive, this_host
from service.store_records import LeaseRecord, iso, utc_now

# KEYS: the lease keys. ARGV: token, ttl in ms, the holder's JSON, then tokens of
# holders known to be gone. Returns nil when taken, else {index of the blocked key,
# its holder's JSON}.
_TAKE = """
local token = ARGV[1]
local gone = {}
for i = 4, #ARGV do gone[ARGV[i]] = true end
local held = {}
for i, key in ipairs(KEYS) do
  local raw = redis.call('GET', key)
  if raw then
    local holder = cjson.decode(raw)
    if holder.token ~= token and not gone[holder.token] then
      return {i, raw}
    end
    held[i] = holder
  end
end
for i, key in ipairs(KEYS) do
  local value = ARGV[3]
  local old = held[i]
  if old and old.token == token then
    local mine = cjson.decode(ARGV[3])
    mine.started_at = old.started_at
    value = cjson.encode(mine)
  end
  redis.call('SET', key, value, 'PX', ARGV[2])
end
return false
"""

# KEYS: the lease keys. ARGV: token, ttl in ms, heartbeat_at, run id ('' for none).
# Returns how many of them the token still holds.
_REFRESH = """
local held = 0
for _, key in ipairs(KEYS) do
  local raw = redis.call('GET', key)
  if raw then
    local holder = cjson.decode(raw)
    if holder.token == ARGV[1] then
      holder.heartbeat_at = ARGV[3]
      if ARGV[4] ~= '' then holder.run_id = tonumber(ARGV[4]) end
      redis.call('SET', key, cjson.encode(holder), 'PX', ARGV[2])
      held = held + 1
    end
  end
end
return held
"""

# KEYS: the lease keys. ARGV: token. Deletes only the token's own.
_RELEASE = """
for _, key in ipairs(KEYS) do
  local raw = redis.call('GET', key)
  if raw and cjson.decode(raw).token == ARGV[1] then
    redis.call('DEL', key)
  end
end
return 0
"""


class RedisLeaseBook:
    """The leases of profile ``profile`` in the Redis ``client`` talks to.

    ``ttl_s``: how long a lease outlives its holder's last heartbeat (tests shorten
    it). Every call raises :class:`~service.flows.lease.LeasesUnreachable` when Redis
    cannot be reached. The scripts touch several keys at once: one Redis server (or
    a Sentinel-managed primary), not a Redis Cluster.
    """

    def __init__(self, client: redis.Redis, profile: str, *, ttl_s: float = LEASE_TTL_S) -> None:
        self.client = client
        self.profile = profile
        self.ttl_ms = int(ttl_s * 1000)
        self._take = client.register_script(_TAKE)
        self._refresh = client.register_script(_REFRESH)
        self._release = client.register_script(_RELEASE)

    def take(
        self,
        names: Sequence[str],
        *,
        token: str,
        flow: str,
        pid: int,
        host: str,
        run_id: int | None,
    ) -> LeaseRecord | None:
        """See :meth:`service.flows.lease.LeaseBook.take`."""
        now = iso(utc_now())
        holder = json.dumps(
            {
                "token": token,
                "flow": flow,
                "pid": pid,
                "host": host,
                "run_id": run_id,
                "started_at": now,
                "heartbeat_at": now,
            }
        )
        keys = self._keys(names)
        gone: list[str] = []
        while True:
            found = self._call(self._take, keys, [token, self.ttl_ms, holder, *gone])
            if found is None:
                return None
            index, raw = found
            blocker = _record(names[int(index) - 1], raw)
            if blocker.token in gone or not _dead_here(blocker):
                return blocker
            # Its process on this machine is gone: take it over now, not after the TTL.
            gone.append(blocker.token)

    def refresh(self, token: str, names: Sequence[str], *, run_id: int | None) -> int:
        """See :meth:`service.flows.lease.LeaseBook.refresh`."""
        args = [token, self.ttl_ms, iso(utc_now()), "" if run_id is None else run_id]
        return int(self._call(self._refresh, self._keys(names), args))

    def release(self, token: str, names: Sequence[str]) -> None:
        """See :meth:`service.flows.lease.LeaseBook.release`."""
        if names:
            self._call(self._release, self._keys(names), [token])

    def holders(self) -> list[LeaseRecord]:
        """See :meth:`service.flows.lease.LeaseBook.holders` (only live ones: keys expire)."""
        prefix = lease_key(self.profile, "")
        try:
            keys = sorted(self.client.scan_iter(match=f"{prefix}*", count=100))
            values = self.client.mget(keys) if keys else []
        except redis.RedisError as exc:
            raise self._unreachable(exc) from None
        return [
            _record(_text(key).removeprefix(prefix), raw)
            for key, raw in zip(keys, values, strict=True)
            if raw is not None
        ]

    def _keys(self, names: Sequence[str]) -> list[str]:
        return [lease_key(self.profile, name) for name in names]

    def _call(self, script: Script, keys: list[str], args: list[Any]) -> Any:
        try:
            return script(keys=keys, args=args)
        except redis.RedisError as exc:
            raise self._unreachable(exc) from None

    def _unreachable(self, exc: redis.RedisError) -> LeasesUnreachable:
        # Host, port and db only: the URL may carry a password.
        kwargs = self.client.connection_pool.connection_kwargs
        where = f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
        return LeasesUnreachable(
            f"the run leases in Redis at {where} cannot be reached ({type(exc).__name__}: {exc})"
        )


def _record(name: str, raw: str | bytes) -> LeaseRecord:
    """Holder ``raw`` (its JSON) of lease ``name``."""
    return LeaseRecord.model_validate({**json.loads(raw), "name": name})


def _text(value: str | bytes) -> str:
    """A key as text, whether or not the client decodes answers."""
    return value.decode() if isinstance(value, bytes) else value


def _dead_here(holder: LeaseRecord) -> bool:
    """Whether ``holder`` ran on this machine and its process is gone."""
    return holder.host == this_host() and not pid_alive(holder.pid)
