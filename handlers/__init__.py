"""Thin event handlers, one module per area; importing this package registers them all."""

from handlers import me, session, system

__all__ = ["me", "session", "system"]
