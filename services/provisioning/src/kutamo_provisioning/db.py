"""The `provisioning` schema: its pool and its migrations (kutamo_kit applies and checks them)."""

from kutamo_kit.database import ServiceDatabase
from kutamo_provisioning.tenancy import APP_ROLE

DATABASE = ServiceDatabase("provisioning", role=APP_ROLE, lock_id=0x6B7574616D6F11)
create_pool = DATABASE.create_pool
migrate = DATABASE.migrations.apply
