"""Node package; empty on purpose so policy modules import without docker."""
