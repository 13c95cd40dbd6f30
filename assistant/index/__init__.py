"""Candidate generators: the BM25 keyword index (tantivy) and the vector index (Chroma)."""
