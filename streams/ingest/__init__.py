"""The prediction ingest: windows, checkpoints, closing and storing."""
