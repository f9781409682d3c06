"""The HTTP stack under the sign-in path's floor (bench/_floor.py: verify the Microsoft token, sign a
session): uvicorn with h11 and asyncio (the service's stack before issue 14), uvicorn with httptools and
uvloop, and granian (uvloop, one worker). CPU per request of the server process from /proc, 32 clients
at saturation, interleaved rounds (BENCH_ROUNDS, BENCH_ROUND), medians."""

import asyncio
import os
import statistics
import sys
from typing import Any

import httpx

from bench import _load as load
from bench.signin import USERS, Bench, Server, _command, _setting
from kutamo_dev.ports import free_port
from kutamo_dev.stack import Stack

STACKS = ("uvicorn_h11_asyncio", "uvicorn_httptools_uvloop", "granian")


def _start(stack_name: str, bench: Bench) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "EMULATOR_URL": bench.emulator,
        "TID": bench.tid,
        "APPLICATION_ID": bench.app,
    }
    env["FLOOR_STACK"] = "h11" if stack_name == "uvicorn_h11_asyncio" else ""
    argv = _command("bench._floor", "from_env", port, 1, "granian" if stack_name == "granian" else "uvicorn")
    return Server(stack_name, argv, env, port)


async def _run(stack: Stack) -> dict[str, Any]:
    bench = Bench(stack)
    rounds, per_round = _setting("BENCH_ROUNDS", 3), _setting("BENCH_ROUND", 3000)
    async with httpx.AsyncClient() as http:
        for oid in bench.oids:
            await http.post(f"{bench.emulator}/_emulator/users", json={
                "tid": bench.tid, "oid": oid, "display_name": "Bench", "user_principal_name": f"{oid}@bench.test",
            })  # fmt: skip
    requests = (await bench.mint(["n"] * USERS)) * (per_round // USERS + 1)
    servers = [_start(name, bench) for name in STACKS]
    figures: dict[str, list[dict[str, float]]] = {s.name: [] for s in servers}
    try:
        for server in servers:
            await server.ready("/schema")
            await load.closed_loop(server.port, requests[:500], bench.concurrency)
        for _ in range(rounds):
            for server in servers:
                before = load.cpu_seconds(server.proc.pid)
                outcome = await load.closed_loop(server.port, requests[:per_round], bench.concurrency)
                cpu = load.cpu_seconds(server.proc.pid) - before
                assert outcome.ok == per_round, outcome.summary()
                figures[server.name].append({
                    "cpu_us_per_request": cpu * 1e6 / per_round, "per_second": outcome.ok / outcome.seconds,
                    "rss_mb": sum(load.rss_mb(server.proc.pid)),
                })  # fmt: skip
    finally:
        for server in servers:
            server.stop()
    median = {
        name: {key: round(statistics.median(r[key] for r in rs), 1) for key in rs[0]} for name, rs in figures.items()
    }
    base = median["uvicorn_h11_asyncio"]["cpu_us_per_request"]
    for values in median.values():
        values["cpu_ratio_to_h11"] = round(values["cpu_us_per_request"] / base, 2)
    return {"settings": {"rounds": rounds, "round": per_round, "concurrency": bench.concurrency},
            "median": median, "rounds": figures, "python": sys.version.split()[0]}  # fmt: skip


def run(stack: Stack) -> dict[str, Any]:
    return asyncio.run(_run(stack))
