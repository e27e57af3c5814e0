"""Sources: the fetcher and the parsers that turn bodies into items."""
