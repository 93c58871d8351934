"""Template variables: the Prometheus datasource, then model → version → feature, and the
address of the driftline API that the report links open."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models.dashboard import VariableOption, VariableRefresh, VariableSort

from dashboards.catalogue import API_URL, DATASOURCE_UID
from dashboards.panels import DATASOURCE


def datasource_variable() -> dash.DatasourceVariable:
    """Any Prometheus datasource; the provisioned one (fixed uid) by default."""
    return (dash.DatasourceVariable("datasource").label("Prometheus").type("prometheus")
            .current(VariableOption(selected=True, text="driftline Prometheus",
                                    value=DATASOURCE_UID)))


def query_variable(name: str, label: str, query: str, *, multi: bool = False
                   ) -> dash.QueryVariable:
    """A variable from ``label_values(...)``, refreshed with the time range."""
    variable = (dash.QueryVariable(name).label(label).datasource(DATASOURCE)
                .query(query)
                .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
                .sort(VariableSort.ALPHABETICAL_ASC))
    if multi:
        variable = variable.multi(True).include_all(True)
    return variable


def model_variables() -> list[dash.QueryVariable]:
    """model, version (of that model) and feature (of that model and versions)."""
    return [
        query_variable("model", "Model", "label_values(driftline_window_events, model)"),
        query_variable("version", "Version",
                       'label_values(driftline_window_events{model="$model"}, version)',
                       multi=True),
        query_variable("feature", "Feature",
                       'label_values(driftline_feature_drift{model="$model", '
                       'version=~"$version"}, feature)', multi=True),
    ]


def api_url_variable() -> dash.TextBoxVariable:
    """The API's address as a browser reaches it (``driftline api``, docs/api.md); edit it
    on the dashboard or in the provisioned JSON when the API is elsewhere."""
    return (dash.TextBoxVariable("api_url").label("driftline API")
            .description("Address of `driftline api`, for the report links.")
            .default_value(API_URL)
            .current(VariableOption(selected=True, text=API_URL, value=API_URL)))
