"""Who is asking, by network address: the peer, or behind `TRUSTED_PROXY_HOPS` proxies the address they report."""

from aiohttp import web


def client_address(request: web.Request, trusted_proxy_hops: int) -> str:
    """With N trusted proxies in front, the N-th address from the right of `X-Forwarded-For` is the one the
    outermost trusted proxy saw; anything further left was written by the client and is not believed."""
    if trusted_proxy_hops:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
        if len(forwarded) >= trusted_proxy_hops:
            return forwarded[-trusted_proxy_hops]
    return request.remote or "unknown"
