"""SQL storage: tables, migrations and the repository functions (the only SQL).

>>> from store import make_engine, upgrade
>>> engine = make_engine("sqlite://")   # in memory; a file path in real use
>>> upgrade(engine)
>>> with engine.begin() as conn:
...     touch_model(conn, "fraud")
...     list_models(conn)
['fraud']
>>> engine.dispose()
"""

from store.engine import make_engine, mask_url
from store.migrate import current_revision, head_revision, upgrade
from store.repository import (
    Checkpoint,
    StoredReference,
    WindowRecord,
    feature_history,
    list_models,
    list_windows,
    load_checkpoints,
    load_reference,
    load_reference_by_id,
    save_checkpoint,
    save_reference,
    save_window,
    touch_model,
)

__all__ = [
    "Checkpoint",
    "StoredReference",
    "WindowRecord",
    "current_revision",
    "feature_history",
    "head_revision",
    "list_models",
    "list_windows",
    "load_checkpoints",
    "load_reference",
    "load_reference_by_id",
    "make_engine",
    "mask_url",
    "save_checkpoint",
    "save_reference",
    "save_window",
    "touch_model",
    "upgrade",
]
