"""Delivery: rendering (pure), the outbox and the senders."""
