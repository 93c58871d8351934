"""What the watcher reads from an MLflow tracking server, through ``MlflowClient``.

Decisions:

- MLflow is imported when a reader is made, so driftline runs without the extra;
  without it ``MissingExtraError`` says which extra to install.
- MLflow's client retries a failed request itself, for minutes. The reader turns
  that off (no retries, ``REQUEST_TIMEOUT`` seconds a request) so the watcher's own
  backoff decides when to try again. Both are process-wide settings of MLflow, and
  so is the tracking URI, which the dataset sources stored on the server
  (``mlflow-artifacts:/...``) are downloaded through.
- Connection failures and server errors are ``RegistryUnavailableError``; what the
  server says does not exist is ``RegistryMissingError``: a model without versions
  or aliases, a version without a run, a run without a reference file.
- A version's reference file is, in order: the artifact ``reference_artifact`` of its
  run; else a logged input dataset of the run whose source is a file (local, ``s3://``,
  ``https://``, ``mlflow-artifacts:/`` ...) ending in ``.csv``, ``.parquet`` or
  ``.jsonl``, preferring the context ``reference``, then ``training``, then the
  order of logging. A dataset that cannot be downloaded (a local path of another
  machine) is skipped with its reason, which ``FetchResult.reasons`` keeps.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

SUFFIXES = (".csv", ".parquet", ".jsonl")
CONTEXT_TAG = "mlflow.data.context"
CONTEXT_ORDER = ("reference", "training")
REQUEST_TIMEOUT = 30
PAGE = 1000


class MissingExtraError(RuntimeError):
    """MLflow is not installed."""


class RegistryUnavailableError(RuntimeError):
    """The tracking server did not answer, or answered with an error."""


class RegistryMissingError(LookupError):
    """The tracking server says a model, version, run or artifact does not exist."""


@dataclass(frozen=True)
class RegisteredVersion:
    """One version of a registered model, and the run it was registered from."""

    name: str
    version: str
    run_id: str | None


@dataclass(frozen=True)
class ReferenceFile:
    """A version's reference file, downloaded to ``path``; ``origin`` says where from."""

    path: Path
    origin: str
    run_id: str


@dataclass
class FetchResult:
    """The file found for a version, or None with why each candidate was passed over."""

    found: ReferenceFile | None = None
    reasons: list[str] = field(default_factory=list)


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError as exc:  # pragma: no cover - the extra is installed in the tests
        raise MissingExtraError("MLflow is not installed: pip install 'driftline[mlflow]'") from exc
    return mlflow


def _is_missing(exc: BaseException) -> bool:
    return getattr(exc, "error_code", None) == "RESOURCE_DOES_NOT_EXIST"


def _quoted(name: str) -> str:
    return "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


class MlflowReader:
    """Reads registered models, versions, aliases and reference files from one server."""

    def __init__(self, tracking_uri: str, reference_artifact: str) -> None:
        mlflow = _mlflow()
        from mlflow.environment_variables import (
            MLFLOW_HTTP_REQUEST_MAX_RETRIES,
            MLFLOW_HTTP_REQUEST_TIMEOUT,
        )
        from mlflow.exceptions import MlflowException
        from requests.exceptions import RequestException

        retries: Any = MLFLOW_HTTP_REQUEST_MAX_RETRIES  # MLflow's variables are untyped
        timeout: Any = MLFLOW_HTTP_REQUEST_TIMEOUT
        retries.set(0)
        timeout.set(REQUEST_TIMEOUT)
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
        self.tracking_uri = tracking_uri
        self.reference_artifact = reference_artifact
        self._mlflow = mlflow
        self._client = mlflow.tracking.MlflowClient(tracking_uri=tracking_uri,
                                                    registry_uri=tracking_uri)
        self._errors: tuple[type[BaseException], ...] = (MlflowException, RequestException,
                                                         OSError)

    def _call(self, what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except self._errors as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            if _is_missing(exc):
                raise RegistryMissingError(f"{what}: {first}") from exc
            raise RegistryUnavailableError(f"{what}: {first}") from exc

    def _pages(self, what: str, search: Any, **kwargs: Any) -> Iterator[Any]:
        token = None
        while True:
            page = self._call(what, search, max_results=PAGE, page_token=token, **kwargs)
            yield from page
            token = page.token
            if not token:
                return

    def model_names(self) -> list[str]:
        """Every registered model's name."""
        found = self._pages("search registered models", self._client.search_registered_models)
        return sorted(model.name for model in found)

    def versions(self, name: str) -> list[RegisteredVersion]:
        """The versions of registered model ``name``, oldest first (none if no such model)."""
        try:
            found = list(self._pages(f"search versions of {name}",
                                     self._client.search_model_versions,
                                     filter_string=f"name = {_quoted(name)}"))
        except RegistryMissingError:
            return []
        versions = [RegisteredVersion(v.name, str(v.version), v.run_id or None) for v in found]
        return sorted(versions, key=lambda v: int(v.version) if v.version.isdigit() else 0)

    def alias_version(self, name: str, alias: str) -> str | None:
        """The version ``alias`` points at, or None (no such alias, or no such model)."""
        try:
            model = self._call(f"read registered model {name}",
                               self._client.get_registered_model, name)
        except RegistryMissingError:
            return None
        version = dict(model.aliases or {}).get(alias)
        return None if version is None else str(version)

    def version(self, name: str, version: str) -> RegisteredVersion:
        """One version of a registered model (without a run when it is gone)."""
        try:
            found = self._call(f"read {name} version {version}",
                               self._client.get_model_version, name, version)
        except RegistryMissingError:
            return RegisteredVersion(name, version, None)
        return RegisteredVersion(found.name, str(found.version), found.run_id or None)

    def fetch_reference(self, version: RegisteredVersion, into: Path) -> FetchResult:
        """Download ``version``'s reference file into the folder ``into`` (module docstring)."""
        result = FetchResult()
        if version.run_id is None:
            result.reasons.append("the version has no run")
            return result
        try:
            return self._fetch(version.run_id, into, result)
        except RegistryMissingError as exc:
            result.reasons.append(str(exc))
            return result

    def _fetch(self, run_id: str, into: Path, result: FetchResult) -> FetchResult:
        artifact = self._artifact(run_id, into / "artifact")
        if artifact is not None:
            result.found = artifact
            return result
        result.reasons.append(f"no artifact {self.reference_artifact}")
        for origin, source in self._datasets(run_id, result.reasons):
            target = into / f"dataset-{len(result.reasons)}"
            target.mkdir(parents=True, exist_ok=True)
            try:
                local = Path(self._call(f"download {origin}", source.load, dst_path=str(target)))
            except (RegistryUnavailableError, RegistryMissingError) as exc:
                result.reasons.append(f"cannot download {origin}: {exc}")
                continue
            if local.is_file():
                result.found = ReferenceFile(local, origin, run_id)
                return result
            result.reasons.append(f"{origin} is not a file")
        return result

    def _artifact(self, run_id: str, into: Path) -> ReferenceFile | None:
        wanted = PurePosixPath(self.reference_artifact)
        parent = None if str(wanted.parent) == "." else str(wanted.parent)
        listed = self._call(f"list the artifacts of run {run_id}",
                            self._client.list_artifacts, run_id, parent)
        if not any(info.path == str(wanted) and not info.is_dir for info in listed):
            return None
        into.mkdir(parents=True, exist_ok=True)
        local = self._call(f"download artifact {wanted}", self._client.download_artifacts,
                           run_id, str(wanted), str(into))
        return ReferenceFile(Path(local), f"runs:/{run_id}/{wanted}", run_id)

    def _datasets(self, run_id: str, reasons: list[str]) -> list[tuple[str, Any]]:
        run = self._call(f"read run {run_id}", self._client.get_run, run_id)
        candidates: list[tuple[int, int, str, Any]] = []
        inputs = run.inputs.dataset_inputs if run.inputs is not None else []
        for position, dataset_input in enumerate(inputs):
            dataset = dataset_input.dataset
            tags = {tag.key: tag.value for tag in dataset_input.tags or []}
            context = tags.get(CONTEXT_TAG, "")
            try:
                source = self._mlflow.data.get_source(dataset_input)
            except Exception as exc:  # an unknown source type is MLflow's to describe
                reasons.append(f"dataset {dataset.name!r}: {str(exc).splitlines()[0]}")
                continue
            origin = getattr(source, "uri", None) or getattr(source, "url", None) \
                or _source_uri(dataset.source)
            if not isinstance(origin, str) or not origin.lower().endswith(SUFFIXES):
                reasons.append(f"dataset {dataset.name!r} ({dataset.source_type}) is not a "
                               f"{', '.join(SUFFIXES)} file")
                continue
            rank = CONTEXT_ORDER.index(context) if context in CONTEXT_ORDER else len(CONTEXT_ORDER)
            candidates.append((rank, position, origin, source))
        if not inputs:
            reasons.append("no logged input dataset")
        return [(origin, source) for _, _, origin, source in sorted(candidates,
                                                                    key=lambda c: c[:2])]


def _source_uri(source: str) -> str | None:
    try:
        parsed = json.loads(source)
    except (TypeError, ValueError):
        return None
    if not isinstance(parsed, dict):
        return None
    found = parsed.get("uri") or parsed.get("url")
    return found if isinstance(found, str) else None
