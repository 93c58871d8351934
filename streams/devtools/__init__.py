"""Developer tools: the embedded broker, the simulator, the demo and example data."""
