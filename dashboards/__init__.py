"""Grafana dashboards, provisioning and Prometheus rules, with their builder."""
