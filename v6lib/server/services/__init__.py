"""Server use cases, free of HTTP: each function takes a ``ServiceContext`` and pydantic input,
returns ORM objects or pydantic output, and raises only ``v6lib.errors``."""
