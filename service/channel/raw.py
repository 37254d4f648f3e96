"""Raw exchanges as error reports store them (the shared, redacting implementation)."""

from service.net.exchange import RawExchange

__all__ = ["RawExchange"]
