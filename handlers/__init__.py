"""Thin event handlers, one module per area; importing this package registers them all."""

from handlers import admin, chat, me, notifications, offers, payouts, session, system, tasks, wallet

__all__ = ["admin", "chat", "me", "notifications", "offers", "payouts", "session", "system", "tasks", "wallet"]
