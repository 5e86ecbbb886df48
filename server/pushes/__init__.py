"""Everything the server pushes to clients, one module per area; each `push(...)` is declared next to the function
that emits it, and every one goes out through `delivery.deliver`."""

from server.pushes import account, chat, money, tasks

__all__ = ["account", "chat", "money", "tasks"]
