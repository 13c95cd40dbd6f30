"""Answerers: turn hits into a short answer with [n] markers and numbered sources, or refuse."""
