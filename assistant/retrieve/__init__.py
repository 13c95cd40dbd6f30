"""Retrieval: keyword and vector candidates, fused by reciprocal rank, optionally reranked."""
