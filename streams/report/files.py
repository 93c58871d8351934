"""A report of ``driftline compare``'s two files: the verdict and both sides drawn."""

from __future__ import annotations

from streams.batch.compare import CompareResult
from streams.report.model import Distribution, ReportData, distribution


def from_compare(result: CompareResult) -> ReportData:
    """The page's data of one comparison (its profile and sketch give the bars)."""
    report = result.report
    data = result.to_dict()
    columns = (*data["features"], *data["predictions"], *data["targets"])
    drawings: dict[str, Distribution] = {}
    if result.profile is not None:
        for column in result.profile.columns:
            sketch = None if result.sketch is None else result.sketch.columns.get(column.name)
            drawings[column.name] = distribution(column, None if sketch is None
                                                 else [int(c) for c in sketch.counts])
    facts = [("reference file", str(result.reference)),
             ("reference rows", str(report.n_reference_rows)),
             ("current file", str(result.current)),
             ("current rows", str(report.n_current_rows)),
             ("columns compared", str(len(columns)))]
    if result.skipped:
        facts.append(("not profiled", ", ".join(result.skipped)))
    if result.missing_in_current:
        facts.append(("absent from current", ", ".join(result.missing_in_current)))
    return ReportData(
        title=f"Drift report: {result.current.name} against {result.reference.name}",
        verdict=data, columns=columns, distributions=drawings, facts=tuple(facts),
        settings=data["policy"], performance=result.performance)
