"""One JSON object a line on stderr: time, level, logger, message and the call's fields.

Every event is logged, so a line must be cheap: orjson serializes it, and the caller's
file/line, thread and process lookups that stdlib logging does per record are turned off.
"""

import logging
import sys

from pythonjsonlogger.orjson import OrjsonFormatter


def configure(level: str) -> None:
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        OrjsonFormatter(
            "{levelname}{name}{message}",
            style="{",
            timestamp="time",
            rename_fields={"levelname": "level", "name": "logger"},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for existing in logging.root.manager.loggerDict.values():
        if isinstance(existing, logging.Logger):
            existing.handlers.clear()
            existing.propagate = True
    for noisy in ("aiohttp.access", "socketio", "engineio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
