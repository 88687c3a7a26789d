"""omnihook as real processes for the crash tests: `omnihook serve` and `omnihook worker` subprocesses."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO

import httpx

from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class OmnihookProcess:
    """One `omnihook <command>` child process with its output in a log file."""

    def __init__(self, command: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "omnihook.cli", *command],
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as when the machine dies."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()

    def output(self) -> str:
        """The end of what the process wrote."""
        return self.log_path.read_text(errors="replace")[-4000:]


def omnihook_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        "OMNIHOOK_DATABASE_URL": database_url,
        "OMNIHOOK_ADMIN_USERNAME": ADMIN_USERNAME,
        "OMNIHOOK_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "OMNIHOOK_ALLOW_PRIVATE_TARGETS": "1",
        "OMNIHOOK_LOG_LEVEL": "warning",
        **extra,
    }


async def start_server(env: dict[str, str], port: int, log_path: Path, *options: str) -> OmnihookProcess:
    """`omnihook serve` on `port` (with `options`), once GET /health answers."""
    server = OmnihookProcess(["serve", "--port", str(port), *options], env, log_path)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        for _ in range(300):
            if server.proc.poll() is not None:
                raise AssertionError(f"the server exited:\n{server.output()}")
            try:
                if (await http.get("/health")).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    server.stop()
    raise AssertionError(f"the server did not start:\n{server.output()}")


async def start_worker(env: dict[str, str], log_path: Path) -> OmnihookProcess:
    """`omnihook worker`, once it says it is delivering."""
    worker = OmnihookProcess(["worker"], env, log_path)
    for _ in range(300):
        if worker.proc.poll() is not None:
            raise AssertionError(f"the worker exited:\n{worker.output()}")
        if "delivering webhooks" in worker.output():
            return worker
        await asyncio.sleep(0.1)
    worker.stop()
    raise AssertionError(f"the worker did not start:\n{worker.output()}")
