"""The ``intq`` command line."""

from __future__ import annotations

import argparse
import sys

from . import __version__


def _demo(args: argparse.Namespace) -> int:
    from .demo import run

    figures = run(m=args.m, k=args.k, n=args.n, seed=args.seed)
    return 0 if figures["oracle_mismatches"] == 0 and figures["expansion_mismatches"] == 0 else 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``intq`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="intq", description="Integer-arithmetic-only neural-network inference."
    )
    parser.add_argument("--version", action="version", version=f"intq {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="quantize a float matrix product and run it with integer arithmetic only"
    )
    demo.add_argument("--m", type=int, default=64, help="rows of the activations (default 64)")
    demo.add_argument("--k", type=int, default=256, help="inner dimension (default 256)")
    demo.add_argument("--n", type=int, default=64, help="columns of the weights (default 64)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse ``argv`` and run a subcommand; errors are messages, not tracebacks."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    for name in ("m", "k", "n"):
        if getattr(args, name, 1) < 1:
            parser.error(f"--{name} must be at least 1")
    try:
        return args.handler(args)
    except (ValueError, TypeError, OverflowError, OSError) as exc:
        print(f"intq {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
