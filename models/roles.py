"""The roles a user can have, and the sets of them events are open to: the one place a role is named."""

CUSTOMER, CONTRACTOR, ADMIN = "customer", "contractor", "admin"

ALL = frozenset({CUSTOMER, CONTRACTOR, ADMIN})
CUSTOMERS = frozenset({CUSTOMER})
CONTRACTORS = frozenset({CONTRACTOR})
ADMINS = frozenset({ADMIN})
TRADERS = frozenset({CUSTOMER, CONTRACTOR})
"""The two sides of a trade, and the roles one may register with (admins cannot self-register)."""
SELF_REGISTERED = (CUSTOMER, CONTRACTOR)


def is_admin(role: str) -> bool:
    return role == ADMIN
