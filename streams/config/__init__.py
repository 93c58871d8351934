"""Configuration: the settings file, its schema and its documentation."""
