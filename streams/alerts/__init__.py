"""The alert glue: waking the dispatcher after commits, and the dispatcher service."""
