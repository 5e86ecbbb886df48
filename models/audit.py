"""Recomputing every balance from the ledger's entries and comparing with what is stored."""

from collections import defaultdict
from dataclasses import dataclass, field

from models import ledger
from models.db import Database


@dataclass
class AuditReport:
    transactions: int = 0
    accounts: int = 0
    total_cents: int = 0
    unbalanced: list[str] = field(default_factory=list)
    mismatched: list[dict] = field(default_factory=list)
    negative: list[str] = field(default_factory=list)
    unknown_accounts: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.total_cents == 0 and not (self.unbalanced or self.mismatched or self.negative or self.unknown_accounts)

    def summary(self) -> str:
        lines = [
            f"ledger audit: {'CLEAN' if self.clean else 'PROBLEMS FOUND'}",
            f"  transactions: {self.transactions}, accounts: {self.accounts}, sum of all entries: {self.total_cents} cents",
        ]
        lines += [f"  unbalanced transaction: {tx}" for tx in self.unbalanced]
        lines += [f"  stored balance differs: {item}" for item in self.mismatched]
        lines += [f"  negative balance: {account}" for account in self.negative]
        lines += [f"  entries for a missing account: {account}" for account in self.unknown_accounts]
        return "\n".join(lines)


async def audit(db: Database) -> AuditReport:
    """Reads while writers are held off (embedded mode), so the books are seen at one moment."""
    report = AuditReport()
    computed: dict[str, dict[str, int]] = defaultdict(_zero_buckets)
    async with db.exclusive():
        async for transaction in db[ledger.TRANSACTIONS].find():
            report.transactions += 1
            total = sum(entry["amount"] for entry in transaction["entries"])
            report.total_cents += total
            if total != 0:
                report.unbalanced.append(str(transaction["_id"]))
            for entry in transaction["entries"]:
                computed[entry["account"]][ledger.BUCKET_FIELDS[entry["bucket"]]] += entry["amount"]
        async for account in db[ledger.ACCOUNTS].find():
            report.accounts += 1
            expected = computed.pop(account["_id"], _zero_buckets())
            stored = {field: account[field] for field in ledger.BUCKET_FIELDS.values()}
            if stored != expected:
                report.mismatched.append({"account": account["_id"], "stored": stored, "fromEntries": expected})
            if account["_id"] not in ledger.MAY_GO_NEGATIVE and min(stored.values()) < 0:
                report.negative.append(account["_id"])
    report.unknown_accounts = sorted(computed)
    return report


def _zero_buckets() -> dict[str, int]:
    return dict.fromkeys(ledger.BUCKET_FIELDS.values(), 0)
