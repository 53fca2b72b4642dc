"""The web UI: static pages served by the server itself, at ``/ui``.

The pages are plain ES modules that talk to the same JSON API as the Python client,
with the same bearer tokens, so the UI adds no way in that the API does not have and
every click is judged by the same permission engine.
"""
