"""The `identity` schema: its pool and its migrations (kutamo_kit applies and checks them)."""

from kutamo_identity.tenancy import APP_ROLE
from kutamo_kit.database import ServiceDatabase

DATABASE = ServiceDatabase("identity", role=APP_ROLE, lock_id=0x6B7574616D6F01)
create_pool = DATABASE.create_pool
migrate = DATABASE.migrations.apply
migrate_database = DATABASE.migrations.apply_to  # the tests, benchmarks and CLI helpers apply them directly
