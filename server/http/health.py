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
    details = {}
    if services.db.persistence is not None:
        status = await services.db.persistence.status()
        checks["persistence"] = status["durable"]
        if not status["durable"]:
            details["reason"] = status["failure"]
    ready = all(checks.values())
    failure = AppError("not_ready", "A dependency is unreachable, or writes are not durable.", {"checks": checks} | details)
    return web.json_response({"ok": True, "data": {"checks": checks}} if ready else failure.envelope(), status=200 if ready else 503)


async def _reachable(probe) -> bool:
    try:
        await probe
        return True
    except Exception:
        return False
