"""The process at run time: metrics, health, logs, memory and collector tuning."""
