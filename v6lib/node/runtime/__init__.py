"""Container runtimes behind one interface (see base.py)."""
