"""What an offer costs and pays, in integer cents from basis points, rounded half up."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FeePolicy:
    platform_fee_bps: int
    service_fee_bps: int


def _share(amount: int, bps: int) -> int:
    return (amount * bps + 5_000) // 10_000


def quote(amount: int, policy: FeePolicy) -> dict[str, int]:
    """`platformFee` is charged to the customer on top; `serviceFee` is deducted from the contractor's pay."""
    platform_fee, service_fee = _share(amount, policy.platform_fee_bps), _share(amount, policy.service_fee_bps)
    return {
        "amount": amount,
        "platformFee": platform_fee,
        "serviceFee": service_fee,
        "contractorPayout": amount - service_fee,
        "totalCharge": amount + platform_fee,
    }
