"""Who wrote a batch request or error report, as the tables show it.

``local``: a run of this profile; ``remote``: another deployment (Akinon's channel app,
or ChannelDesk workers elsewhere), mirrored from Omnitron by "Sync from Omnitron".
"""

from __future__ import annotations

ORIGIN_KINDS: dict[str, str] = {"local": "neutral", "remote": "info"}
ORIGIN_TIPS: dict[str, str] = {
    "local": "Written by a run of this profile",
    "remote": "Written by another deployment; mirrored from Omnitron (Sync from Omnitron)",
}
# The origin filters of the data views: label, ErrorQuery/BatchQuery origin.
ORIGIN_CHOICES: tuple[tuple[str, str | None], ...] = (
    ("All origins", None),
    ("This profile's", "local"),
    ("Remote (mirrored)", "remote"),
)
