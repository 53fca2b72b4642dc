"""Thin Falcon resources: parse the request into a schema, call a service, send a schema."""
