"""The storage interface: the I/O manager seam, history reads and the model registry, each its own
module; every table access goes through them."""

from technic_assets.storage.connection import SCHEMA, connect, db_path, transaction
from technic_assets.storage.history import History
from technic_assets.storage.io_manager import StoreIOManager
from technic_assets.storage.models import ModelRegistry
from technic_assets.storage.resource import StoreResource

__all__ = ["SCHEMA", "History", "ModelRegistry", "StoreIOManager", "StoreResource", "connect", "db_path",
           "transaction"]
