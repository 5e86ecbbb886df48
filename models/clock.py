"""The time the domain stores: UTC, truncated to milliseconds as BSON dates keep it."""

from datetime import UTC, datetime


def now() -> datetime:
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
