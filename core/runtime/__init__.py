"""The data path: listeners, the engine lifecycle, mode tcp and mode http."""
