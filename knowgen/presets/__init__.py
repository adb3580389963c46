"""Shipped TOML presets (read with importlib.resources)."""
