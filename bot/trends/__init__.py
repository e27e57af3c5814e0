"""Trends: story volume over time (series, charts) and surges (a topic taking off)."""
