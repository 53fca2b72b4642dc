"""Database layer of the server: declarative base, models, engine and migrations."""
