"""ChannelDesk's desktop console (PySide6): the window, its views and workers."""
