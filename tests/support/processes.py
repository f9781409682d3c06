"""Start the two services as real processes for tests, each on a free port, logs kept in files."""

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

from kutamo_dev.ports import free_port


class ServiceProcess:
    def __init__(self, module: str, env: dict[str, str], log_path: Path) -> None:
        self.module = module
        self.port = int(env["PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.log_path = log_path
        self._log: IO[bytes] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, ready_timeout: float = 60.0) -> None:
        self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", self.module], env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"{self.module} exited with {self._proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.module} was not ready within {ready_timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._log is not None:
            self._log.close()

    def kill(self) -> None:
        """SIGKILL, as the kernel's OOM killer or `kill -9` ends a process: no clean-up of its own."""
        assert self._proc is not None, "not started"
        self._proc.kill()
        self._proc.wait(10)
        if self._log is not None:
            self._log.close()

    @property
    def pid(self) -> int:
        assert self._proc is not None, "not started"
        return self._proc.pid

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def identity_workers(supervisor: int) -> list[int]:
    """An identity supervisor's worker processes (uvicorn spawns them; multiprocessing's resource tracker
    and the relays, children of the workers, are not among them)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == supervisor and b"spawn_main" in cmdline:
            found.append(int(entry))
    return sorted(found)


def service_env(base: dict[str, str], **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "DATABASE_", "AZURE_", "GRAPH_"))}
    env.update(base)
    env.update(overrides)
    env.setdefault("PORT", str(free_port()))
    env.setdefault("MIGRATE_ON_START", "true")  # each test database starts empty; production runs `migrate`
    return env
