# Every module that declares tables on Base.metadata, so that autogenerate sees them all.
from gongkai_catalog import annual_report, participation_models, search  # noqa: F401
from gongkai_catalog.models import Base
from gongkai_shared.migrations import run_env

run_env(Base.metadata)
