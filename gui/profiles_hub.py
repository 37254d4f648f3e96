"""Every profile the console holds: one session each, opened side by side.

The console serves all profiles at once (the built-in sandbox and those of the
profiles file), so that the schedules of each keep running whichever one is shown.
:class:`ProfilesHub` owns their :class:`~gui.session.ConsoleSession` objects. Each
session opens its connection in the background on its own; one that fails (a
missing secret, an unusable store) is kept as failed with its reason, and never
keeps the others from opening. Only a sandbox profile starts simulators, so opening
many profiles starts at most the one sandbox.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtCore import QObject

from gui.session import ConsoleSession
from gui.workers import SessionState
from service.config import Profile
from service.connect import Locations
from service.sandbox.launcher import SandboxOptions
from service.store_errors import StoreError

_log = logging.getLogger(__name__)

# Sessions opening their connection at the same time.
OPEN_AT_ONCE = 2


@dataclass
class ProfileEntry:
    """One profile: its session, or why it has none (its store could not be opened)."""

    profile: Profile
    session: ConsoleSession | None
    error: str = ""
    exit_code: int = 0  # the command line's exit code for ``error``

    @property
    def name(self) -> str:
        """The profile's name."""
        return self.profile.name


class ProfilesHub(QObject):
    """The sessions of every profile, in the order the profiles were given."""

    def __init__(self, entries: Iterable[ProfileEntry], parent: QObject | None = None) -> None:
        """A hub over ``entries`` (see :meth:`open` and :meth:`single`)."""
        super().__init__(parent)
        self.entries: list[ProfileEntry] = list(entries)
        if not self.entries:
            raise ValueError("a console needs at least one profile")
        self._closed = False
        self._waiting: list[ConsoleSession] = []

    @classmethod
    def open(
        cls,
        profiles: Iterable[Profile],
        locations: Locations,
        *,
        sandbox_options: SandboxOptions | None = None,
    ) -> ProfilesHub:
        """A session per profile (not started yet: call :meth:`start`).

        A profile whose store cannot be opened becomes an entry without a session,
        holding the reason.
        """
        entries = []
        for profile in profiles:
            try:
                session = ConsoleSession(
                    profile,
                    locations,
                    sandbox_options=sandbox_options if profile.sandbox else None,
                )
            except StoreError as exc:
                _log.warning("profile %s: cannot open its store: %s", profile.name, exc)
                entries.append(ProfileEntry(profile, None, str(exc), exc.exit_code))
                continue
            entries.append(ProfileEntry(profile, session))
        return cls(entries)

    @classmethod
    def single(cls, session: ConsoleSession) -> ProfilesHub:
        """A hub of one session (its caller starts it)."""
        return cls([ProfileEntry(session.profile, session)])

    @property
    def names(self) -> list[str]:
        """The profile names, in order."""
        return [entry.name for entry in self.entries]

    def entry(self, name: str) -> ProfileEntry:
        """The entry of profile ``name``; ``KeyError`` when the hub has none."""
        for entry in self.entries:
            if entry.name == name:
                return entry
        raise KeyError(name)

    def session(self, name: str) -> ConsoleSession | None:
        """The session of profile ``name`` (``None`` when it could not be made)."""
        return self.entry(name).session

    def sessions(self) -> list[ConsoleSession]:
        """Every session there is."""
        return [entry.session for entry in self.entries if entry.session is not None]

    def start(self, first: str | None = None) -> None:
        """Open every session's connection in the background, ``first`` first.

        At most :data:`OPEN_AT_ONCE` open at the same time: opening builds clients and
        starts simulators on worker threads, and many at once would starve the GUI
        thread of the interpreter. The next starts when one is ready or has failed.
        """
        waiting = [s for s in self.sessions() if s.state is SessionState.STARTING]
        waiting.sort(key=lambda session: session.profile.name != first)
        self._waiting = waiting
        for _ in range(OPEN_AT_ONCE):
            self._open_next()

    def _open_next(self) -> None:
        if self._closed or not self._waiting:
            return
        session = self._waiting.pop(0)
        session.ready.connect(self._open_next)
        session.failed.connect(self._open_next)
        session.start()

    def close(self) -> None:
        """Close every session (after their flows stopped). Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._waiting.clear()
        for session in self.sessions():
            session.close()
