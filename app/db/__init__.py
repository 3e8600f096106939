"""GenTrade persistence: SQLAlchemy 2 models, the engine and sessions, repositories, services."""
