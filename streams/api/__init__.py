"""``driftline api``: the HTTP API over the store (``streams.api.app.create_app``)."""
