"""Test fixture: a plugin that raises on import, so the host must isolate it."""

raise RuntimeError("mstk-broken-plugin fails on import on purpose")
