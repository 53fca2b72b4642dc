"""Server package; empty on purpose so service modules import without falcon."""
