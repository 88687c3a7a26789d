"""Child processes of the benchmark: start, wait until ready, measure from /proc, always stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    """A port nothing listens on right now (on loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Usage:
    cpu_seconds: float  # user + system, since the process started
    rss_bytes: int
    peak_rss_bytes: int  # VmHWM


def usage(pid: int) -> Usage:
    with open(f"/proc/{pid}/stat", "rb") as f:
        # the command name may hold spaces: fields start after the last ')'
        fields = f.read().rsplit(b")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    rss = int(fields[21]) * PAGE_SIZE
    peak = rss
    with open(f"/proc/{pid}/status", "rb") as f:
        for line in f:
            if line.startswith(b"VmHWM:"):
                peak = int(line.split()[1]) * 1024
    return Usage(cpu, rss, peak)


def reset_peak_rss(pid: int) -> bool:
    """Start VmHWM afresh (Linux: clear_refs 5), so that the peak covers what follows only."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class Child:
    """A child process whose output goes to a log file; `stop()` ends it and its process group."""

    def __init__(self, name: str, process: asyncio.subprocess.Process, log: Path) -> None:
        self.name = name
        self.process = process
        self.log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    def usage(self) -> Usage:
        return usage(self.pid)

    def alive(self) -> bool:
        return self.process.returncode is None

    def line(self, prefix: str) -> str | None:
        """The last line of the child's output that starts with `prefix`, without it."""
        found = None
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith(prefix):
                found = line[len(prefix) :].strip()
        return found

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def wait(self, within: float) -> int:
        return await asyncio.wait_for(self.process.wait(), within)

    async def stop(self, grace: float = 5.0) -> None:
        if self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            await self.process.wait()


class Children:
    """Every process a scenario starts; all of them are stopped when the block ends, even on failure."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[Child] = []

    async def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        ready_line: str | None = None,
        ready_timeout: float = 60.0,
    ) -> tuple[Child, str]:
        """Start `argv`; with `ready_line`, wait for a stdout line starting with it and return that line."""
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}-{len(self.started)}.log"
        full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        with log.open("ab") as log_file:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdout=asyncio.subprocess.PIPE if ready_line else log_file,
                stderr=log_file,
                env=full_env,
                start_new_session=True,
            )
        child = Child(name, process, log)
        self.started.append(child)
        if ready_line is None:
            return child, ""
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(_read_until(process.stdout, ready_line), ready_timeout)
        except (TimeoutError, EOFError) as exc:
            await child.stop()
            raise RuntimeError(f"{name} did not start:\n{child.tail()}") from exc
        # keep draining stdout so that the child never blocks on a full pipe
        asyncio.get_running_loop().create_task(_drain(process.stdout, log))
        return child, line

    async def stop_all(self) -> None:
        for child in reversed(self.started):
            await child.stop()


async def _read_until(stream: asyncio.StreamReader, prefix: str) -> str:
    while True:
        raw = await stream.readline()
        if not raw:
            raise EOFError(prefix)
        line = raw.decode(errors="replace").strip()
        if line.startswith(prefix):
            return line


async def _drain(stream: asyncio.StreamReader, log: Path) -> None:
    with log.open("ab") as f:
        while chunk := await stream.read(65536):
            f.write(chunk)


@contextlib.asynccontextmanager
async def children(logs: Path) -> AsyncIterator[Children]:
    group = Children(logs)
    try:
        yield group
    finally:
        await group.stop_all()


def python_argv(module: str, *args: str) -> list[str]:
    """Run a module with this interpreter (the project's virtualenv)."""
    return [sys.executable, "-m", module, *args]


def omnihook_argv(*args: str) -> list[str]:
    """The `omnihook` command of this virtualenv."""
    script = Path(sys.executable).with_name("omnihook")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "omnihook.cli", *args]
