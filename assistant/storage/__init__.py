"""All storage code lives here: the interfaces (``interfaces``) and their implementations.

Embedded defaults: ``sql`` on SQLite, ``keyword_tantivy``, ``vector_chroma`` (embedded), ``local``
(the data-directory lock) and ``visibility`` (the in-process gate). Scale-out: ``sql`` on PostgreSQL,
``keyword_pg`` (the keyword index in that same database) and ``vector_chroma`` on a Chroma server.
Only the composition root (``assistant.app``) picks one.
"""
