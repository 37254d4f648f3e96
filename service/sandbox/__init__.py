"""Built-in simulators of Omnitron and of a marketplace, served by uvicorn on loopback."""
