"""Shared kernel: settings, persistence, identity, errors, events and the app factory.

It holds no domain rules; each service keeps its own in its ``domain`` module.
"""
