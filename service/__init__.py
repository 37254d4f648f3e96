"""ChannelDesk's non-GUI core: flows, clients, store, configuration and simulators."""
