"""The batch side: reading files, ``driftline compare`` and its reports."""
