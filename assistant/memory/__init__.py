"""Conversation memory: recent turns, recall of older ones, and follow-up rewriting."""
