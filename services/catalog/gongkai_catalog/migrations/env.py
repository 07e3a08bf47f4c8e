from gongkai_catalog import search  # noqa: F401  (item_search is declared there: autogenerate must see it)
from gongkai_catalog.models import Base
from gongkai_shared.migrations import run_env

run_env(Base.metadata)
