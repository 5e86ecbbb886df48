"""Thin event handlers, one module per area; importing this package registers them all."""

from handlers import admin, chat, me, notifications, offers, payouts, plans, profiles, session, system, tasks, wallet

__all__ = ["admin", "chat", "me", "notifications", "offers", "payouts", "plans", "profiles", "session", "system", "tasks", "wallet"]
