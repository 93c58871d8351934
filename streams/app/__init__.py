"""The worker: the Faust app that wires every room together and serves its web pages."""
