"""Background jobs: RQ queues when `REDIS_URL` is set, the same functions in-process otherwise.

The first jobs (offer expiry, payout retries) arrive with the wallet and offer work.
"""
