"""The mirror: what another deployment wrote to Omnitron, kept in the local store.

An existing deployment (Akinon's channel app, or ChannelDesk workers elsewhere) writes
its batch requests and error reports to Omnitron. :func:`service.mirror.sync.
sync_from_omnitron` pages through the channel's listings and keeps what is new or
changed with ``origin = 'remote'``, so the console shows both with their origin.
"""
