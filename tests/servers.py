"""Real server processes for the tests: `python -m server` on a free loopback port."""

import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


RUNNING: dict[str, "ServerProcess"] = {}
"""Started servers by URL, so helpers that get only a URL can read a server's outbox."""


@dataclass
class ServerProcess:
    """One server; `start`/`stop` may be called again to test restarts."""

    env: dict[str, str] = field(default_factory=dict)
    data_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="server-data-")))
    port: int = field(default_factory=free_port)
    module: str = "server"
    ready_path: str = "/readyz"
    database: str = field(default_factory=lambda: f"test_{uuid.uuid4().hex[:12]}")
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    max_file_bytes: int | None = None
    """A file-size limit (RLIMIT_FSIZE) for the server and its engine: writes past it fail, as on a full disk."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        inherited = {name: value for name, value in os.environ.items() if name != "REDIS_URL"}
        return (
            inherited
            | {
                "HOST": "127.0.0.1",
                "PORT": str(self.port),
                "DATA_DIR": str(self.data_dir),
                "JWT_SECRET": JWT_SECRET,
                "BCRYPT_ROUNDS": "4",
                "LOG_LEVEL": "INFO",
                "MONGODB_DB": self.database,
                # Plans limit what a free account may list and trade; tests about other things are not limited by them
                # (tests/test_plans.py sets the real defaults back).
                "FREE_LISTING_LIMIT": "1000",
                "FREE_PARTNER_LIMIT": "1000",
            }
            | self.env
        )

    def spawn(self, *args: str, log_name: str) -> subprocess.Popen:
        """Another `python -m server …` process (a worker, say) with this server's settings, logging beside it."""
        with open(self.data_dir / log_name, "ab") as log:
            return subprocess.Popen([sys.executable, "-m", "server", *args], cwd=ROOT, env=self.environment(), stdout=log, stderr=log)

    def start(self) -> "ServerProcess":
        RUNNING[self.url] = self
        self.log_path = self.data_dir / "server.log"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module],
                cwd=ROOT,
                env=self.environment(),
                stdout=log,
                stderr=log,
                preexec_fn=self._limits,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if requests.get(self.url + self.ready_path, timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not become ready: {self.log_path.read_text()[-2000:]}")

    def _limits(self) -> None:
        if self.max_file_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (self.max_file_bytes, self.max_file_bytes))

    def outbox(self, to: str) -> list[EmailMessage]:
        """The emails this server wrote to `DATA_DIR/outbox/` for `to` (no `SMTP_URL`), oldest first."""
        found = []
        for path in sorted((self.data_dir / "outbox").glob("*.eml")):
            mail = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
            if mail["To"] == to:
                found.append(mail)
        return found

    def rss_bytes(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) * 1024

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=30)

    def kill_all(self) -> None:
        """SIGKILL the server and its embedded engine at once, as a power cut or the OOM killer would; wait for both."""
        children = [int(pid) for pid in Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()]
        for pid in [self.process.pid, *children]:
            os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        for pid in children:
            while Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]:
                time.sleep(0.05)

    def run_cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "server", *args], cwd=ROOT, env=self.environment(), capture_output=True, text=True, timeout=60)

    def audit_clean(self) -> None:
        """Stop the server (embedded mode lets only one process own the data) and require a clean `audit-ledger`."""
        if self.process and self.process.poll() is None:
            self.stop()
        audit = self.run_cli("audit-ledger")
        assert audit.returncode == 0 and "CLEAN" in audit.stdout, audit.stdout + audit.stderr

    def remove(self) -> None:
        if self.process and self.process.poll() is None:
            self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
