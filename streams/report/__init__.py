"""``driftline report``: a self-contained HTML page of a comparison or of stored windows."""
