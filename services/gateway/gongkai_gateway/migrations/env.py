from gongkai_gateway.models import Base
from gongkai_shared.migrations import run_env

run_env(Base.metadata)
