"""Commands that run the service: ``worker`` and ``demo``."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from streams.cli.common import fail


@click.command("worker")
@click.option("--config", type=click.Path(path_type=Path), default=None,
              help="YAML settings file (default: $DRIFTLINE_CONFIG, else the defaults).")
@click.option("--log-level", "--loglevel", "log_level", default=None,
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
              help="Level of driftline's own log lines (default: worker.log_level, info).")
@click.option("--log-format", "log_format", default=None,
              type=click.Choice(["text", "json"], case_sensitive=False),
              help="text, or json: one JSON object per line (default: worker.log_format, text).")
def worker(config: Path | None, log_level: str | None, log_format: str | None) -> None:
    """Run a worker: consume predictions, close windows, store and export them.

    Logs go to standard error, one line per record (docs/operations.md).
    """
    import faust

    from streams.app.worker import create_app
    from streams.config.settings import SettingsError, load_settings, process_environment
    from streams.runtime import memory
    from streams.runtime.logs import configure_logging

    memory.configure(process_environment())  # before the worker's threads start

    try:
        settings = load_settings(config)
    except SettingsError as exc:
        fail(str(exc))
    options = settings.worker
    configure_logging((log_level or options.log_level).lower(),
                      (log_format or options.log_format).lower(), options.framework_log_level)
    with tempfile.TemporaryDirectory(prefix="driftline-worker-") as datadir:
        app, _ = create_app(settings, datadir=datadir)
        # Logging is set up above: Faust's own set-up (its colour handler on standard
        # output, print() redirected into the log, a progress spinner) stays off.
        runner = faust.Worker(app, quiet=True, override_logging=False, redirect_stdouts=False)
        runner.spinner = None
        runner.execute_from_commandline()


@click.command("demo")
@click.option("--duration", type=float, default=75.0, show_default=True,
              help="Seconds of simulated traffic (the whole demo takes about 30 s more).")
@click.option("--forever", is_flag=True, help="Keep producing until Ctrl-C.")
@click.option("--rate", type=float, default=2_500.0, show_default=True,
              help="Events per second sent by the simulator.")
@click.option("--speed", type=float, default=120.0, show_default=True,
              help="Seconds of event time per second of clock time.")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--workdir", type=click.Path(path_type=Path), default=Path(".demo"),
              show_default=True, help="Where the database and the logs go (emptied first).")
def demo(duration: float, forever: bool, rate: float, speed: float, seed: int,
         workdir: Path) -> None:
    """Broker, worker and a drifting simulator, with a live table of windows."""
    import signal

    from streams.devtools.demo import DemoRun, run_demo

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Ctrl-C, and SIGTERM alike, stop the simulator, the worker and the broker in order.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    run = DemoRun(workdir=workdir, duration=None if forever else duration, rate=rate,
                  speed=speed, seed=seed)
    try:
        ok = run_demo(run)
    except KeyboardInterrupt:
        click.echo("\nstopped")
        raise SystemExit(130) from None
    raise SystemExit(0 if ok else 1)
