"""What the server keeps under `DATA_DIR`: an owner lock, the dev JWT secret, snapshots."""

import contextlib
import fcntl
import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)


@contextlib.contextmanager
def exclusive_lock(data_dir: Path) -> Iterator[None]:
    """One process owns an embedded data directory; a second would overwrite its snapshots."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".lock", "w") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(f"{data_dir} is in use by a running server; stop it first (or set MONGODB_URI).") from None
        yield


def jwt_secret(configured: str | None, data_dir: Path) -> str:
    """`JWT_SECRET` if set; otherwise a generated secret kept in `DATA_DIR` (development)."""
    if configured:
        return configured
    path = data_dir / "jwt_secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
        log.warning("JWT_SECRET is not set; generated one in DATA_DIR (fine for development only)")
    return path.read_text().strip()
