"""All storage code lives here: the SQL catalog and the data-directory lock."""
