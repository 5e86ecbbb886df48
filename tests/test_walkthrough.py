"""The README's walkthrough runs, and leaves the money where the protocol says."""

from examples import walkthrough
from tests.conftest import ADMIN


async def test_the_readme_walkthrough_plays_the_whole_flow(server):
    wallets = await walkthrough.main(server.url, ADMIN["email"], ADMIN["password"])
    assert (wallets["customer"]["balance"], wallets["customer"]["totalSpent"]) == (20_000 - 10_500, 10_500)
    assert (wallets["contractor"]["balance"], wallets["contractor"]["totalEarnings"]) == (8_000, 8_000)
