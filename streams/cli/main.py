"""The ``driftline`` command line: one group, each command in a module of ``streams.cli``.

A command's module is imported only when that command runs: ``driftline --help``
lists the commands from ``COMMANDS`` (name, module, one-line help) without
importing any of them, so it answers before numpy, Kafka or SQL are loaded. A test
checks that each line of ``COMMANDS`` is its command's own short help.

``--version`` prints driftline's version on the group and on every command; a
model's version is ``--model-version`` wherever a command takes one.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from streams.cli.errors import CLIError

__all__ = ["COMMANDS", "CLIError", "main"]

# name: (module in streams.cli, attribute, the command's short help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "compare": ("compare", "compare",
                "Compare CURRENT against REFERENCE (CSV, Parquet or JSONL files)."),
    "broker": ("broker", "command",
               "Run the embedded broker (Tansu, in memory) until Ctrl-C or SIGTERM."),
    "simulate": ("simulate", "command",
                 "Send simulated prediction events of a fraud-scoring model to Kafka."),
    "replay": ("replay", "command",
               "Send the rows of FILE (CSV, Parquet or JSON Lines) to Kafka as events."),
    "backfill": ("backfill", "command", "Send the history in PREDICTIONS (and their LABELS) "
                                        "to the worker, in event-time order."),
    "worker": ("run", "worker",
               "Run a worker: consume predictions, close windows, store and export them."),
    "demo": ("run", "demo",
             "Broker, worker and a drifting simulator, with a live table of windows."),
    "db": ("store", "db", "Database schema management."),
    "reference": ("store", "reference", "Reference profiles of models."),
    "windows": ("store", "windows", "The stored windows of MODEL, oldest first."),
    "detections": ("store", "detections", "The concept-drift detections on MODEL's "
                                              "error stream, in stream order."),
    "alerts": ("store", "alerts", "The current state of each of MODEL's alert instances."),
    "deadletter": ("deadletter", "command", "Show the newest dead letters (invalid events) "
                                            "with their reasons, newest last."),
    "config": ("config", "config", "Check the configuration, or print its JSON Schema."),
    "audit": ("audit", "audit", "The audit trail of writes (references, silences, deletes), "
                                "newest first."),
    "api": ("api", "command",
            "Serve the HTTP API (read drift history, performance and alerts) until Ctrl-C."),
    "registry": ("registry", "registry",
                 "Model registries references are set from (docs/versions.md)."),
    "report": ("report", "report", "Write an HTML report (no network needed to open it) of "
                                   "two files or of MODEL's stored windows over a time range."),
}


class LazyGroup(click.Group):
    """A group whose commands are imported when they run (module docstring)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute, _ = COMMANDS[cmd_name]
        command: click.Command = getattr(
            importlib.import_module(f"streams.cli.{module}"), attribute)
        _with_version(command)
        return command

    def format_commands(self, ctx: click.Context, formatter: Any) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, (_, _, short) in COMMANDS.items()])


def _print_version(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from importlib.metadata import version

        click.echo(f"driftline, version {version('driftline')}")
        ctx.exit()


def _version_option() -> click.Option:
    return click.Option(["--version"], is_flag=True, expose_value=False, is_eager=True,
                        callback=_print_version, help="Show driftline's version and exit.")


def _with_version(command: click.Command) -> None:
    """Give ``command`` (and a group's commands) the ``--version`` option, once."""
    if not any("--version" in getattr(p, "opts", ()) for p in command.params):
        command.params.append(_version_option())
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _with_version(sub)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]},
             params=[_version_option()])
def main() -> None:
    """driftline: streaming model monitoring (data drift, concept drift, performance)."""


if __name__ == "__main__":  # pragma: no cover
    main()
