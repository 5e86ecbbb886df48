"""What the server stands on: the database handle and the embedded engine with its snapshots, the data directory,
the Stripe client, presence, rate limits and session revocation across processes."""
