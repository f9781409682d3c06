"""A throwaway PostgreSQL cluster for the local stack, or the external server named by DATABASE_URL.

The cluster lives in `<run_dir>/postgres`, trusts every local connection (dev only) and listens on
127.0.0.1 only. PostgreSQL refuses to run as root, so as root it runs as the system user `kutamo-pg`.
"""

import hashlib
import logging
import os
import pwd
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import msgspec

from kutamo_dev import procs
from kutamo_dev.ports import free_port, is_free

__all__ = [
    "IDENTITY_ROLE",
    "PROVISIONING_ROLE",
    "ROLES_SQL",
    "PostgresInfo",
    "answering",
    "as_role",
    "external",
    "find_bin_dir",
    "start",
    "stop",
]

log = logging.getLogger(__name__)

ROLE = "kutamo"
# The roles the services log in as (neither superuser nor BYPASSRLS), created by ROLES_SQL.
IDENTITY_ROLE = "kutamo_identity"
PROVISIONING_ROLE = "kutamo_provisioning"
ROLES_SQL = Path(__file__).with_name("roles.sql")
DATABASE = "kutamo"
OS_USER = "kutamo-pg"
# Unix socket paths are limited to 107 bytes; the socket file name adds up to 18.
_MAX_SOCKET_DIR = 88
_SETTINGS: Mapping[str, str] = {
    "listen_addresses": "127.0.0.1",
    # Durability is worthless for a throwaway cluster and costs seconds per test run.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


class PostgresInfo(msgspec.Struct, kw_only=True):
    url: str
    pid: int | None = None
    port: int | None = None
    data_dir: str | None = None
    managed: bool = False
    pid_started: int | None = None
    """The server's start time (procs.started_at): a later process with the same pid is not ours."""

    def running(self) -> bool:
        """The server this record names is still running (not merely some process with its pid)."""
        return self.managed and procs.ours(self.pid, self.pid_started, f"-D {self.data_dir} ")


# Where the cluster goes when the run folder is closed to the PostgreSQL user.
FALLBACK_ROOT = Path("/var/tmp/kutamo-pg")  # noqa: S108 - checked to be root-owned before use (_cluster_dir)


def external(url: str) -> PostgresInfo:
    """The server named by DATABASE_URL: used as it is, never started or stopped here."""
    return PostgresInfo(url=url, managed=False)


def as_role(url: str, role: str) -> str:
    """`url` with `role` as its user (the cluster trusts local connections: no password)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


def find_bin_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """PG_BIN if set, else the newest /usr/lib/postgresql/<version>/bin that has initdb."""
    if environ.get("PG_BIN"):
        return Path(environ["PG_BIN"])
    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]
    if not candidates:
        raise procs.StartupError(
            "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin; install them or set PG_BIN"
        )
    return max(candidates, key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)])


def answering(url: str, bin_dir: Path | None = None) -> bool:
    """True when the server behind `url` accepts connections."""
    pg_isready = (bin_dir or find_bin_dir()) / "pg_isready"
    result = subprocess.run([str(pg_isready), "-q", "-t", "2", "-d", url], check=False)
    return result.returncode == 0


def start(run_dir: Path, port: int | None = None) -> PostgresInfo:
    """Initialise the cluster on first use, start it (on `port` when still free) and ensure the database."""
    began = time.monotonic()
    bin_dir = find_bin_dir()
    pg_dir = _cluster_dir(run_dir)
    data_dir = pg_dir / "data"
    _prepare_dirs(pg_dir)
    if not (data_dir / "PG_VERSION").exists():
        _initdb(bin_dir, data_dir, pg_dir / "initdb.log")
    port = port if port is not None and is_free(port) else free_port()
    url = f"postgresql://{ROLE}@127.0.0.1:{port}/{DATABASE}"
    log_path = pg_dir / "postgres.log"
    cmd = [str(bin_dir / "postgres"), "-D", str(data_dir), "-p", str(port), "-k", str(_socket_dir(pg_dir))]
    for name, value in _SETTINGS.items():
        cmd += ["-c", f"{name}={value}"]
    pid = procs.start(_as_owner(cmd), log_path)
    admin_url = f"postgresql://{ROLE}@127.0.0.1:{port}/postgres"
    try:
        procs.wait_for(
            lambda: answering(admin_url, bin_dir), 60, "PostgreSQL did not start", log_path=log_path, pid=pid
        )
        _ensure_database(bin_dir, port)
    except BaseException:
        procs.stop(pid, 10, sig=signal.SIGINT)  # a server that never became usable must not linger
        raise
    log.info("PostgreSQL ready on port %d in %.1fs (pid %d)", port, time.monotonic() - began, pid)
    return PostgresInfo(
        url=url, pid=pid, port=port, data_dir=str(data_dir), managed=True, pid_started=procs.started_at(pid)
    )


def stop(info: PostgresInfo, timeout: float = 30.0) -> None:
    """Stop a cluster started here; SIGINT is PostgreSQL's fast shutdown (it does not wait for clients)."""
    if info.managed:
        procs.stop_recorded(info.pid, info.pid_started, f"-D {info.data_dir} ", timeout, sig=signal.SIGINT)


def _owner() -> pwd.struct_passwd | None:
    """The unprivileged user to run PostgreSQL as, created on demand; None when we are not root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(OS_USER)
    except KeyError:
        pass
    log.info("creating system user %s to run PostgreSQL (it refuses to run as root)", OS_USER)
    result = subprocess.run(
        [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            OS_USER,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return pwd.getpwnam(OS_USER)
    except KeyError:
        raise procs.StartupError(f"cannot create system user {OS_USER}: {result.stderr.strip()}") from None


def _as_owner(cmd: Sequence[str]) -> list[str]:
    """`cmd` prefixed to run as the PostgreSQL user; setpriv execs in place, so the pid stays the server's."""
    owner = _owner()
    if owner is None:
        return list(cmd)
    return ["setpriv", f"--reuid={owner.pw_uid}", f"--regid={owner.pw_gid}", "--clear-groups", "--", *cmd]


def _cluster_dir(run_dir: Path) -> Path:
    """`<run_dir>/postgres`, or, when the PostgreSQL user cannot reach the run folder (a private
    temporary folder, say), a folder of its own under /var/tmp named after the run folder."""
    wanted = run_dir.resolve() / "postgres"
    if _owner() is None:
        return wanted
    run_dir.mkdir(parents=True, exist_ok=True)
    if subprocess.run(_as_owner(["test", "-x", str(run_dir.resolve())]), check=False).returncode == 0:
        return wanted
    FALLBACK_ROOT.mkdir(mode=0o711, exist_ok=True)
    info = FALLBACK_ROOT.lstat()
    if not FALLBACK_ROOT.is_dir() or FALLBACK_ROOT.is_symlink() or info.st_uid != 0 or info.st_mode & 0o022:
        raise procs.StartupError(f"{FALLBACK_ROOT} must be a folder owned by root and writable by root only")
    fallback = FALLBACK_ROOT / hashlib.sha256(str(wanted).encode()).hexdigest()[:16]
    log.info("user %s cannot reach %s; keeping the PostgreSQL cluster in %s", OS_USER, run_dir, fallback)
    return fallback


def _prepare_dirs(pg_dir: Path) -> None:
    pg_dir.mkdir(parents=True, exist_ok=True)
    owner = _owner()
    if owner is None:
        return
    for path in (pg_dir, *pg_dir.iterdir()):
        if path.is_dir():
            os.chown(path, owner.pw_uid, owner.pw_gid)
    reach = subprocess.run(_as_owner(["test", "-w", str(pg_dir)]), check=False)
    if reach.returncode != 0:
        raise procs.StartupError(
            f"user {OS_USER} cannot write {pg_dir}: make its parent folders searchable (chmod o+x) "
            "or choose another --run-dir"
        )


def _initdb(bin_dir: Path, data_dir: Path, log_path: Path) -> None:
    cmd = [
        str(bin_dir / "initdb"),
        "-D",
        str(data_dir),
        "--auth=trust",
        "-U",
        ROLE,
        "--encoding=UTF8",
        "--no-locale",
        "--no-sync",
    ]
    with log_path.open("wb") as out:
        result = subprocess.run(_as_owner(cmd), stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        raise procs.StartupError(f"initdb failed. Last lines of {log_path}:\n{procs.log_tail(log_path)}")


def _socket_dir(pg_dir: Path) -> Path:
    """A socket folder inside the run dir, or a private temporary one when that path is too long."""
    wanted = pg_dir / "socket"
    if len(str(wanted)) > _MAX_SOCKET_DIR:
        wanted = Path(tempfile.mkdtemp(prefix="kutamo-pg-"))
    wanted.mkdir(exist_ok=True)
    owner = _owner()
    if owner is not None:
        os.chown(wanted, owner.pw_uid, owner.pw_gid)
    return wanted


def _psql(bin_dir: Path, port: int, database: str, *args: str) -> str:
    cmd = [str(bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", ROLE, "-d", database,
           "-v", "ON_ERROR_STOP=1", "-tA", *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def ensure_roles(info: PostgresInfo) -> None:
    """The services' own login roles; the superuser is for the stack and the tests, never a service."""
    if info.managed and info.port is not None:
        _psql(find_bin_dir(), info.port, DATABASE, "-f", str(ROLES_SQL))


def _ensure_database(bin_dir: Path, port: int) -> None:
    if DATABASE not in _psql(bin_dir, port, "postgres", "-c", "select datname from pg_database").split():
        _psql(bin_dir, port, "postgres", "-c", f'create database "{DATABASE}"')
    _psql(bin_dir, port, DATABASE, "-f", str(ROLES_SQL))
