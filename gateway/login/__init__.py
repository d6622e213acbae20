"""Package: see the modules' docstrings."""
