"""Command line of the local stack: `python -m kutamo_dev [--run-dir DIR] {up,down,status,env,...}`."""

import argparse
import logging
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from kutamo_dev import demo, services
from kutamo_dev import stack as stacks
from kutamo_dev.procs import StartupError

Command = Callable[[argparse.Namespace], int]


class CliError(Exception):
    """A failure to report as one line on stderr, with a non-zero exit code."""


def env_lines(stack: stacks.Stack) -> list[str]:
    """`export` lines that point a shell (or a service) at the stack."""
    values = {
        "DATABASE_URL": stack.postgres.url,
        "KAFKA_BOOTSTRAP_SERVERS": stack.kafka.bootstrap_servers,
    }
    if stack.emulator is not None:
        values["AZURE_LOGIN_BASE_URL"] = stack.emulator.url
        values["GRAPH_BASE_URL"] = stack.emulator.url
    values["TOKEN_SEALING_KEY"] = stack.sealing_key
    if stack.operator_key:
        values["KUTAMO_OPERATOR_KEY"] = stack.operator_key
    urls = {service.name: service.url for service in stack.services}
    if "identity" in urls:
        values["IDENTITY_BASE_URL"] = urls["identity"]
    if "provisioning" in urls:
        values["PROVISIONING_BASE_URL"] = urls["provisioning"]
    return [f"export {name}={shlex.quote(value)}" for name, value in values.items()]


def _recorded(run_dir: Path) -> stacks.Stack:
    stack = stacks.load(run_dir)
    if stack is None:
        raise CliError(f"no stack is recorded in {run_dir}; start one with `python -m kutamo_dev up`")
    return stack


def _where(stack: stacks.Stack) -> list[str]:
    pg, kafka, emulator = stack.postgres, stack.kafka, stack.emulator
    pg_note = f"pid {pg.pid}, data {pg.data_dir}" if pg.managed else "external"
    kafka_note = (
        f"Apache Kafka {kafka.version}, pid {kafka.pid}, data {kafka.data_dir}" if kafka.managed else "external"
    )
    lines = [
        f"  PostgreSQL  {pg.url}  ({pg_note})",
        f"  Kafka       {kafka.bootstrap_servers}  ({kafka_note})",
    ]
    if emulator is not None:
        lines.append(f"  Emulator    {emulator.url}  (Microsoft login + Graph, pid {emulator.pid})")
    lines += [f"  {s.name:<11} {s.url}  (pid {s.pid})" for s in stack.services]
    return lines


def cmd_up(args: argparse.Namespace) -> int:
    stack, started = stacks.up(args.run_dir)
    print("Local stack started:" if started else "Local stack already running:")
    print("\n".join(_where(stack)))
    print(f"Logs and data in {stack.run_dir}. To use it from a shell:")
    print(f'  eval "$(python -m kutamo_dev --run-dir {shlex.quote(str(args.run_dir))} env)"')
    print("which sets (TOKEN_SEALING_KEY, a secret, is only printed by `env`):")
    print("\n".join(line for line in env_lines(stack) if not line.startswith("export TOKEN_SEALING_KEY=")))
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    if stacks.load(args.run_dir) is None:
        print(f"Nothing recorded in {args.run_dir}; nothing to stop.")
        return 0
    stacks.down(args.run_dir)
    print("Local stack stopped.")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    stack = _recorded(args.run_dir)
    print("\n".join(_where(stack)))
    answers = stacks.health(stack)
    print("  " + "  ".join(f"{name}: {'up' if ok else 'DOWN'}" for name, ok in answers.items()))
    return 0 if all(answers.values()) else 1


def cmd_env(args: argparse.Namespace) -> int:
    print("\n".join(env_lines(_recorded(args.run_dir))))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Infrastructure plus both services; waits in the foreground, Ctrl-C stops what it started."""
    stack, infra_started = stacks.up(args.run_dir)
    try:
        stack, _ = services.start_services(stack)
        login_code = services.ensure_demo_tenant(stack)
    except services.ServiceError as exc:
        raise CliError(str(exc)) from None
    identity = next(s.url for s in stack.services if s.name == "identity")
    print("Kutamo Identity is running:")
    print("\n".join(_where(stack)))
    print(f"Demo organisation's login page: {identity}/login/{login_code}")
    print("  open it in a browser, press Sign in with Microsoft, pick Adele Vance in the (emulated) Microsoft")
    print("  window and accept: you land in the app page with her name, title and picture.")
    print(f"  Its JSON for frontends: {identity}/v1/login/{login_code}. Sign in over HTTP instead:  make demo")
    print(f"Operators: the pipeline page is {identity}/ops; its key is KUTAMO_OPERATOR_KEY in")
    print(f"  python -m kutamo_dev --run-dir {shlex.quote(str(args.run_dir))} env   (a secret: it is not printed here)")
    print(f"Logs: {stack.run_dir}/*.log   Stop: Ctrl-C here, or `make stop` from another terminal.")
    try:
        while all(s.running() for s in stack.services):
            time.sleep(1)
        print("a service stopped; see its log in the run folder", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping…")
        return 0
    finally:
        _stop(args.run_dir, infra_started)


def _stop(run_dir: Path, infra_started: bool) -> None:
    if infra_started:
        stacks.down(run_dir)
        return
    stack = stacks.load(run_dir)
    if stack is not None:
        for service in stack.services:
            service.stop()
        stack.services = []
        stacks.save(stack)


def cmd_demo(args: argparse.Namespace) -> int:
    """One demo sign-in against the running system; prints the provisioned user."""
    stack = _recorded(args.run_dir)
    try:
        demo.sign_in_once(stack, Path(stack.run_dir) / "demo-avatar.jpg")
    except demo.DemoError as exc:
        raise CliError(str(exc)) from None
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    """Start the real servers (reusing running ones), run pytest with `args.pytest_args`, stop what it started."""
    stack, started = stacks.up(args.run_dir)
    env = {**os.environ, "KUTAMO_RUN_DIR": stack.run_dir}
    try:
        code = subprocess.call([sys.executable, "-m", "pytest", *args.pytest_args], env=env)
    finally:
        if started:
            stacks.down(args.run_dir)
    if code == 5:
        print("kutamo_dev test: error: pytest collected no tests", file=sys.stderr)
        return 1
    return code


COMMANDS: dict[str, tuple[Command, str]] = {
    "up": (cmd_up, "start PostgreSQL, Kafka and the Microsoft emulator (reuses what is running)"),
    "down": (cmd_down, "stop everything recorded in the run dir"),
    "status": (cmd_status, "show what is recorded and whether it answers"),
    "env": (cmd_env, "print `export` lines for the running stack"),
    "run": (cmd_run, "bring up the whole system: infrastructure and both services"),
    "demo": (cmd_demo, "one demo sign-in against the running system"),
    "test": (cmd_test, "start the real servers and run the tests; arguments after -- go to pytest"),
}


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m kutamo_dev", description="Kutamo's local stack, without Docker.")
    parser.add_argument("--run-dir", type=Path, default=Path(".run"), help="folder for state, data and logs (.run)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text)
        if name == "test":
            sub.add_argument("pytest_args", nargs=argparse.REMAINDER, help="arguments for pytest, after --")
    args = parser.parse_args(argv)
    if args.command == "test" and args.pytest_args[:1] == ["--"]:
        args.pytest_args = args.pytest_args[1:]  # REMAINDER keeps the separator; pytest must not see it
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING if args.verbose else logging.CRITICAL)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    handler, _ = COMMANDS[args.command]
    try:
        return handler(args)
    except (CliError, StartupError, stacks.StackError, NotImplementedError) as exc:
        summary, _, detail = str(exc).partition("\n")
        print(f"kutamo_dev {args.command}: error: {summary}", file=sys.stderr)
        if detail:
            print(detail, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"kutamo_dev {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
