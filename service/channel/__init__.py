"""Sales-channel adapters: the protocol the flows use, DTOs, and the marketplace adapter."""

from service.channel.adapter import ChannelAdapter, ChannelError, Fetched

__all__ = ["ChannelAdapter", "ChannelError", "Fetched"]
