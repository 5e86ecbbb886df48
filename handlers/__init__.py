"""Thin event handlers, one module per area; importing this package registers them all."""

from handlers import admin, boosts, chat, me, notifications, offers, payouts, plans, profiles, referrals, session, system, tasks, wallet

__all__ = [
    "admin",
    "boosts",
    "chat",
    "me",
    "notifications",
    "offers",
    "payouts",
    "plans",
    "profiles",
    "referrals",
    "session",
    "system",
    "tasks",
    "wallet",
]
