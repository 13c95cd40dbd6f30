"""Ingestion: loaders per file type, structure-aware chunking, and the ingestion job."""
