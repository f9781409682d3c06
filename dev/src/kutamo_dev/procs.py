"""Background processes of the local stack: start detached, check, stop, and wait until ready.

Every process writes stdout and stderr to its own log file, so a failure message can quote its tail.
A recorded process is named by its pid and its start time (`started_at`): once it has exited, the
kernel may give its pid to any other process, which `stop_recorded` then never signals.
"""

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

__all__ = ["StartupError", "alive", "log_tail", "ours", "start", "started_at", "stop", "stop_recorded", "wait_for"]

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """A process of the local stack did not become ready; the message quotes its log."""


def start(
    cmd: Sequence[str],
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start `cmd` in its own session (so Ctrl-C in a terminal does not reach it) and return its pid."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as out:
        process = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    log.info("started pid=%d log=%s cmd=%s", process.pid, log_path, cmd[0])
    return process.pid


def _reaped(pid: int) -> bool:
    """Reap `pid` if it is our exited child; True when it was. A zombie would otherwise look alive."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the command name, which is in parentheses and may contain spaces.
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def alive(pid: int | None) -> bool:
    """True when `pid` names a running (not exited, not zombie) process."""
    if pid is None or pid <= 0 or _reaped(pid):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def started_at(pid: int | None) -> int | None:
    """When `pid` started, in clock ticks after boot (field 22 of /proc/<pid>/stat); None when it is gone.
    With the pid it names one process: a later process given the same pid started later."""
    if pid is None or pid <= 0:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name (in parentheses, may hold spaces) start at field 3.
    return int(stat.rsplit(")", 1)[-1].split()[19])


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def ours(pid: int | None, started: int | None, marker: str) -> bool:
    """True when `pid` still is the process recorded with start time `started`. A record written before
    start times were kept (`started` None) counts only when the command line holds `marker` (e.g. the
    PostgreSQL data folder), so a reused pid is never taken for ours."""
    if pid is None or not alive(pid):
        return False
    if started is not None:
        return started_at(pid) == started
    return marker in _command_line(pid)


def stop_recorded(
    pid: int | None, started: int | None, marker: str, timeout: float = 20.0, sig: signal.Signals = signal.SIGTERM
) -> None:
    """`stop` a recorded process, unless its pid now names another process (then it is left alone)."""
    if pid is None or not alive(pid):
        return
    if not ours(pid, started, marker):
        log.warning("pid %d is no longer the process the stack started; not signalling it", pid)
        return
    stop(pid, timeout, sig)


def stop(pid: int | None, timeout: float = 20.0, sig: signal.Signals = signal.SIGTERM) -> None:
    """Ask `pid` (a process just started here) to exit with `sig`; after `timeout` seconds, kill it. Quiet
    when it is already gone. For a pid read from a record, use `stop_recorded`."""
    if not alive(pid):
        return
    assert pid is not None
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return
        time.sleep(0.1)
    log.warning("pid=%d ignored %s for %.0fs; killing it", pid, sig.name, timeout)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    while alive(pid):
        time.sleep(0.05)


def log_tail(log_path: Path | None, lines: int = 30) -> str:
    """The last `lines` lines of a log file, or a note saying why there are none."""
    if log_path is None:
        return "(no log file)"
    try:
        text = log_path.read_text(errors="replace")
    except OSError as exc:
        return f"(cannot read {log_path}: {exc.strerror})"
    return "\n".join(text.splitlines()[-lines:]) or f"({log_path} is empty)"


def wait_for(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    *,
    log_path: Path | None = None,
    pid: int | None = None,
    interval: float = 0.2,
) -> None:
    """Poll `predicate` until true; on timeout or death of `pid`, raise StartupError quoting the log tail."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if pid is not None and not alive(pid):
            problem = f"process {pid} exited"
            break
        if time.monotonic() >= deadline:
            problem = f"not ready after {timeout:.0f}s"
            break
        time.sleep(interval)
    raise StartupError(f"{what}: {problem}. Last lines of {log_path}:\n{log_tail(log_path)}")
