"""Topic matching: normalisation, the query language and the compiled matcher (all pure)."""
