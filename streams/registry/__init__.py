"""The model registry: references set from the datasets logged with registered model versions.

``driftline registry watch`` (``streams.cli.registry``) polls an MLflow tracking
server (``streams.registry.mlflow_reader``) and sets each new version's reference,
and the champion's as the model-wide one (``streams.registry.watcher``), through
the audited ``store.reference_writes.set_reference``. The room ranks with ``app``
and ``api``: it wires the configuration, the batch profiler and the store, and only
the CLI imports it. MLflow is an optional extra (``driftline[mlflow]``), imported
only here and only when the watcher starts.
"""
