"""Newswatch: watch news feeds and public Telegram channels for topics, alert once per story."""

__version__ = "0.1.0"
