"""`python -m bench [name ...]`: run the benchmarks (all, or those named) and write bench/results/<name>.json.

Each benchmark module exposes `run(stack) -> dict` and measures ratios within one run, because the
machine is shared and absolute figures drift. docs/benchmarks.md summarises the latest results.
"""

import importlib
import json
import os
import pkgutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from kutamo_dev import stack as dev_stack

RESULTS = Path(__file__).parent / "results"


def main(names: list[str]) -> int:
    run_dir = Path(os.environ.get("KUTAMO_RUN_DIR", ".run"))
    stack = dev_stack.load(run_dir)
    if stack is None:
        sys.stderr.write("bench: no stack recorded; run it through `make bench`\n")
        return 2
    available = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_"))
    chosen = names or available
    RESULTS.mkdir(exist_ok=True)
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        sys.stdout.write(f"== {name}\n")
        result = module.run(stack)
        result["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        result["machine"] = {"cpus": os.cpu_count()}
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
