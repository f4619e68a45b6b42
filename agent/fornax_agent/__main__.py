"""`python -m fornax_agent --config /etc/fornax/agent.yaml`: run the agent until SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from .agent import Agent
from .config import ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fornax-agent", description=__doc__)
    parser.add_argument("--config", required=True, help="path of the agent's YAML configuration")
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"fornax-agent: configuration error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_args: stop.set())
    Agent(config, stop).run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
