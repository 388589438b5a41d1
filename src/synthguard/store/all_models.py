"""Every module that defines tables on the shared declarative `Base`.

Importing this module registers them all, so Alembic (env.py) and the schema test see
the whole schema. A service that adds tables adds its models module here and its
migration as a new branch from revision 0001 (`Database.migrate` upgrades all heads).
"""

from synthguard.audit import models as audit_models
from synthguard.console import models as console_models
from synthguard.governance import models as governance_models
from synthguard.identity import models as identity_models
from synthguard.moderation import store_models as moderation_models
from synthguard.store import models
from synthguard.store.models import Base

MODULES = (models, identity_models, audit_models, moderation_models, governance_models,
           console_models)

__all__ = ["MODULES", "Base"]
