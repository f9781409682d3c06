"""`make stop` / `make infra-down` signal only processes the stack started: a recorded pid is checked
against the start time recorded with it, so a pid the kernel has since given to an unrelated
process is left alone."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kutamo_dev import procs
from kutamo_dev import stack as stacks
from kutamo_dev.kafka import KafkaInfo
from kutamo_dev.postgres import PostgresInfo


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated process (someone else's server, say) that now holds a pid the stack once recorded."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def test_a_process_is_named_by_its_pid_and_start_time(bystander: subprocess.Popen[bytes]) -> None:
    started = procs.started_at(bystander.pid)
    assert started is not None
    assert procs.ours(bystander.pid, started, marker="irrelevant")
    assert not procs.ours(bystander.pid, started - 1, marker="irrelevant"), "the same pid, started at another time"
    assert procs.started_at(2**22 + 1) is None


def test_a_recorded_pid_now_used_by_an_unrelated_process_is_not_signalled(
    bystander: subprocess.Popen[bytes],
) -> None:
    recorded_start = procs.started_at(bystander.pid) - 1  # type: ignore[operator]

    procs.stop_recorded(bystander.pid, recorded_start, marker="kutamo_dev.emulator", timeout=1)

    assert bystander.poll() is None, "the unrelated process was signalled"


def test_the_recorded_process_itself_is_stopped(bystander: subprocess.Popen[bytes]) -> None:
    procs.stop_recorded(bystander.pid, procs.started_at(bystander.pid), marker="", timeout=5)
    assert not procs.alive(bystander.pid)  # signalled and gone (procs reaps its own children)


def test_a_record_from_before_start_times_were_kept_counts_only_when_the_command_line_matches(
    bystander: subprocess.Popen[bytes],
) -> None:
    procs.stop_recorded(bystander.pid, None, marker="kutamo_dev.emulator --port 4000", timeout=1)
    assert bystander.poll() is None
    procs.stop_recorded(bystander.pid, None, marker="time.sleep(60)", timeout=5)
    assert not procs.alive(bystander.pid)


def test_infra_down_leaves_alone_every_recorded_pid_an_unrelated_process_now_holds(
    tmp_path: Path, bystander: subprocess.Popen[bytes]
) -> None:
    pid, other_start = bystander.pid, procs.started_at(bystander.pid) - 1  # type: ignore[operator]
    stacks.save(
        stacks.Stack(
            run_dir=str(tmp_path),
            postgres=PostgresInfo(url="postgresql://kutamo@127.0.0.1:1/kutamo", pid=pid, port=1,
                                  data_dir=str(tmp_path / "postgres" / "data"), managed=True, pid_started=other_start),
            kafka=KafkaInfo(bootstrap_servers="127.0.0.1:2", pid=pid, port=2, data_dir=str(tmp_path / "kafka" / "data"),
                            managed=True, pid_started=other_start),
            emulator=stacks.EmulatorInfo(url="http://127.0.0.1:3", pid=pid, pid_started=other_start),
            services=[stacks.ServiceInfo(name="identity", url="http://127.0.0.1:4", pid=pid, pid_started=other_start)],
            sealing_key="not-used",
        )
    )  # fmt: skip

    stacks.down(tmp_path)

    assert bystander.poll() is None, "make infra-down signalled a process the stack did not start"
    assert stacks.load(tmp_path) is None, "the record is forgotten all the same"
