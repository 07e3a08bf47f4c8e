"""requests tables: the shared event and calendar tables so far; its own issue adds the domain."""

from gongkai_shared.calendar_store import define_calendar_table
from gongkai_shared.db import make_metadata
from gongkai_shared.events import define_event_tables
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    metadata = make_metadata()


event_tables = define_event_tables(Base.metadata)
calendar_table = define_calendar_table(Base.metadata)
