"""Thin event handlers, one module per area; importing this package registers them all."""

from handlers import admin, me, payouts, session, system, wallet

__all__ = ["admin", "me", "payouts", "session", "system", "wallet"]
