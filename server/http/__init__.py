"""Every HTTP route: sign-in (`auth`), health, Stripe's webhook and Checkout return pages (`stripe`), files; and the
middleware that gives each an envelope and a log line."""
