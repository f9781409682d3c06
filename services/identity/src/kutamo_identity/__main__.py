"""Entry point: `python -m kutamo_identity` serves; `python -m kutamo_identity tenants ...` administers."""

import os
import sys

from kutamo_contracts import logformat
from kutamo_identity.config import ConfigError, from_env


def main(argv: list[str]) -> int:
    try:
        config = from_env(os.environ)
    except ConfigError as exc:
        print(f"kutamo-identity: configuration error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    logformat.configure("identity", config.log_level)
    if argv:
        from kutamo_identity import cli

        return cli.main(argv, config)

    import uvicorn

    from kutamo_identity.app import create_app

    uvicorn.run(create_app(config), host=config.host, port=config.port, log_config=None, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
