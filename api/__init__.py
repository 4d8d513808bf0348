"""The ways in (CLI, HTTP service) and the wiring: Settings are read here and nowhere below."""
