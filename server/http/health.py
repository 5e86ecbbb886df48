"""Liveness and readiness for load balancers and supervisors."""

from aiohttp import web

from models.errors import AppError, ok

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response(ok({"status": "up"}))


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    services = request.app["services"]
    checks = {"mongodb": await _reachable(services.db.mongo.command("ping"))}
    if services.redis is not None:
        checks["redis"] = await _reachable(services.redis.ping())
    ready = all(checks.values())
    return web.json_response(
        {"ok": ready, "data": {"checks": checks}} if ready else AppError("not_ready", "A dependency is unreachable.", {"checks": checks}).envelope(),
        status=200 if ready else 503,
    )


async def _reachable(probe) -> bool:
    try:
        await probe
        return True
    except Exception:
        return False
