"""`python -m bot.config`: print or rewrite `.env.example` and the README's settings table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.config import docs


def main(argv: list[str] | None = None) -> int:
    """Print what was asked for; `--write` updates the files in the current directory."""
    parser = argparse.ArgumentParser(prog="python -m bot.config", description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--env-example", action="store_true", help="print .env.example")
    group.add_argument("--readme-table", action="store_true", help="print the README's table")
    group.add_argument(
        "--write", action="store_true", help="rewrite .env.example and README.md's table here"
    )
    args = parser.parse_args(argv)
    if args.write:
        docs.write(Path.cwd())
    else:
        sys.stdout.write(docs.env_example() if args.env_example else docs.readme_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
