"""The two locks and the packages' declared dependencies stay true to what the code installs and imports.

requirements/runtime.lock is what the images install, requirements/dev.lock what `make install` does; both
are compiled by `make lock` from the .in files. A failure here names the file to fix.
"""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements"
PACKAGES = ["contracts", "kit", "services/identity", "services/provisioning", "dev"]

# What development, tests and type checking use and a service image must never carry.
DEVELOPMENT_TOOLS = {
    "pytest",
    "pytest-asyncio",
    "pytest-timeout",
    "ruff",
    "mypy",
    "asyncpg-stubs",
    "schemathesis",
    "hypothesis",
    "playwright",
    "greenlet",
    "jsonschema",
    "scim2-tester",
}

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins(name: str) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of every requirement in a compiled lock."""
    pins: dict[str, tuple[str, int]] = {}
    current = ""
    for line in (REQUIREMENTS / name).read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("--hash="):
            assert current, f"{name}: a hash before any requirement"
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
            continue
        match = PIN.match(stripped)
        assert match, f"{name}: {stripped!r} is not pinned with ==; run `make lock`"
        current = normalized(match.group(1))
        pins[current] = (match.group(2), 0)
    return pins


def input_pins(name: str) -> dict[str, str]:
    """name -> version of each requirement an .in file (and the files it includes with -r) pins."""
    pins: dict[str, str] = {}
    for line in (REQUIREMENTS / name).read_text(encoding="utf-8").splitlines():
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        if stripped.startswith("-r "):
            pins.update(input_pins(stripped.removeprefix("-r ").strip()))
            continue
        match = PIN.match(stripped)
        assert match, f"{name}: {stripped!r} must be pinned with == (the lock pins the rest)"
        pins[normalized(match.group(1))] = match.group(2)
    return pins


@pytest.mark.parametrize("lock", ["runtime.lock", "dev.lock"])
def test_every_locked_requirement_is_pinned_with_hashes(lock: str) -> None:
    pins = lock_pins(lock)
    assert pins
    unhashed = sorted(name for name, (_, hashes) in pins.items() if hashes == 0)
    assert not unhashed, f"{lock} has requirements without hashes (pip --require-hashes refuses it): {unhashed}"


@pytest.mark.parametrize(("source", "lock"), [("runtime.in", "runtime.lock"), ("dev.in", "dev.lock")])
def test_the_lock_pins_what_its_input_asks_for(source: str, lock: str) -> None:
    locked = {name: version for name, (version, _) in lock_pins(lock).items()}
    stale = {
        name: (version, locked.get(name)) for name, version in input_pins(source).items() if locked.get(name) != version
    }
    assert not stale, f"requirements/{lock} is stale against {source} (wanted, locked): {stale}; run `make lock`"


def test_development_installs_the_very_versions_the_images_ship() -> None:
    runtime = {name: version for name, (version, _) in lock_pins("runtime.lock").items()}
    development = {name: version for name, (version, _) in lock_pins("dev.lock").items()}
    differing = {
        name: (version, development.get(name)) for name, version in runtime.items() if development.get(name) != version
    }
    assert not differing, f"dev.lock disagrees with runtime.lock (runtime, dev): {differing}; run `make lock`"


def test_no_development_tool_reaches_the_runtime_lock() -> None:
    runtime = set(lock_pins("runtime.lock"))
    assert not runtime & DEVELOPMENT_TOOLS, f"development tools in runtime.lock: {sorted(runtime & DEVELOPMENT_TOOLS)}"
    unknown = DEVELOPMENT_TOOLS - set(lock_pins("dev.lock"))
    assert not unknown, f"DEVELOPMENT_TOOLS names what dev.lock does not hold (a typo, or a tool gone): {unknown}"


def third_party_imports(package: str) -> set[str]:
    """Top-level modules the package's code imports, less the standard library and the package itself."""
    source = ROOT / package / "src"
    own = {path.name for path in source.iterdir() if path.is_dir() and not path.name.endswith(".egg-info")}
    found: set[str] = set()
    for path in source.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - own - {"__future__"}


def distribution_of(module: str) -> str:
    if module.startswith("kutamo_"):
        return normalized(module)
    distributions = packages_distributions().get(module)
    assert distributions, f"no installed distribution provides {module!r}"
    return normalized(distributions[0])


def declared(package: str) -> set[str]:
    project = tomllib.loads((ROOT / package / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {
        normalized(re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0]) for requirement in project["dependencies"]
    }


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_declares_every_distribution_it_imports(package: str) -> None:
    missing = {distribution_of(module) for module in third_party_imports(package)} - declared(package)
    assert not missing, f"{package}/pyproject.toml does not declare what its code imports: {sorted(missing)}"


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_declares_no_third_party_distribution_it_does_not_import(package: str) -> None:
    if not third_party_imports(package):
        pytest.skip(f"{package} imports no third-party distribution yet")
    imported = {distribution_of(module) for module in third_party_imports(package)}
    unused = {name for name in declared(package) - imported if not name.startswith("kutamo-")}
    assert not unused, f"{package}/pyproject.toml declares what its code never imports: {sorted(unused)}"
