"""One loader per file type. Each turns a file into a ``LoadedDocument`` of ordered blocks."""

from ingest.loaders.base import Block, LoadedDocument, load_file, supported_suffixes

__all__ = ["Block", "LoadedDocument", "load_file", "supported_suffixes"]
