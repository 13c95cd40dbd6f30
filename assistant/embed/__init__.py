"""Embedders: text -> unit vectors. One small interface, several engines."""

from assistant.embed.base import Embedder, make_embedder

__all__ = ["Embedder", "make_embedder"]
