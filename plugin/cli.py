"""The entrypoint: parse the command line, set up logging, run the job, and map errors to exit codes.

Exit status: 0 when every destination has the image, 2 when a setting is invalid, and 1 for any other
failure (an input, a build command, a destination).
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from plugin import __version__
from plugin.errors import PlumeError, SettingsError

EXIT_FAILED = 1
EXIT_BAD_SETTING = 2


class _LevelPrefixFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        return message if record.levelno == logging.INFO else f"{record.levelname.lower()}: {message}"


def setup_logging(debug: bool) -> None:
    """Send progress to stdout, and warnings and errors to stderr, as plain lines."""
    progress = logging.StreamHandler(sys.stdout)
    progress.addFilter(lambda record: record.levelno < logging.WARNING)
    problems = logging.StreamHandler(sys.stderr)
    problems.setLevel(logging.WARNING)
    for handler in (progress, problems):
        handler.setFormatter(_LevelPrefixFormatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [progress, problems]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    logging.getLogger("urllib3").setLevel(logging.INFO if debug else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="plume", description="Build and publish a multi-platform image.")
    parser.add_argument("--version", action="version", version=f"plume {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve_parser = commands.add_parser("serve", help="serve a static registry directory read-only over HTTP")
    serve_parser.add_argument("directory", type=Path, help="a static registry directory that plume wrote")
    serve_parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: %(default)s)")
    serve_parser.add_argument("--port", type=int, default=8080, help="the TCP port to listen on (default: %(default)s)")
    arguments = parser.parse_args(argv)
    setup_logging(debug=False)

    if arguments.command == "serve":
        from plugin.serve import serve

        serve(arguments.directory, arguments.host, arguments.port)
        return 0

    # Imported here so that `--version` and `serve` start without pydantic and requests. These imports create
    # about 30,000 objects that the garbage collector tracks and that live until exit. Collection is paused
    # while they load, and freezing them keeps later collections, and the one at exit, from walking them.
    # Measured side by side on the example, this took about 0.1 s off a 0.4 s run.
    gc.disable()
    from plugin.job import run
    from plugin.settings import load_ci_metadata, load_settings

    gc.freeze()
    gc.enable()

    try:
        settings = load_settings()
        setup_logging(settings.debug)
        return EXIT_FAILED if run(settings, load_ci_metadata()) else 0
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTING
    except PlumeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
