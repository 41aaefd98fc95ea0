"""`csops`: the one command and composition root. Each module of this package registers its own subcommands;
imports of the layers happen inside the handlers, so `csops --help` stays fast. `csops --help` lists the commands."""

from __future__ import annotations

import argparse
import importlib
import sys

from pydantic import ValidationError

from csops.settings import Settings

# One module per concern; each has `register(commands)` that adds its subparsers with `handler=` defaults.
COMMAND_MODULES = ["csops.cli.agent", "csops.cli.lab", "csops.cli.pipeline", "csops.cli.briefs", "csops.cli.report",
                   "csops.cli.slack"]


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="csops",
        description="Customer Success operations as Dagster pipelines. Paths come from CSOPS_DATA_DIR "
        "(default: ./data), CSOPS_LANDING_DIR, CSOPS_DUCKDB_PATH and DAGSTER_HOME.",
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["evaluate"]:  # evaluate parses its own options
        from lab.evaluate import main as evaluate_main

        return evaluate_main(argv[1:])
    if argv[:1] == ["eval-voice"]:  # so does eval-voice
        from lab.voice_eval import main as eval_voice_main

        return eval_voice_main(argv[1:])
    args = parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValidationError as error:  # a bad CSOPS_* variable: one line, no traceback
        print("csops: configuration error: " + "; ".join(e["msg"] for e in error.errors()), file=sys.stderr)
        return 2
    settings.export()
    return run_handler(args, settings)


def run_handler(args: argparse.Namespace, settings: Settings) -> int:
    """Run a command; what a user can cause ends in one line saying what to do, any traceback goes to the log."""
    import logging

    from csops.errors import UserError

    log_file = settings.data_dir / "logs" / "csops.log"
    try:
        return args.handler(args, settings)
    except UserError as error:
        print(f"csops: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("csops: interrupted; the next `csops run` cleans up what this one left.", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 (the one place every other failure is turned into a line and a log)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file)
        logger = logging.getLogger("csops.cli")
        logger.addHandler(handler)
        logger.exception("csops %s failed", args.command)
        handler.close()
        logger.removeHandler(handler)
        first_line = (str(error).strip().splitlines() or [""])[0][:300]
        print(f"csops: {args.command} failed: {type(error).__name__}: {first_line} (traceback in {log_file})",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
