"""Legato: a multichannel order management system.

Every order from every channel enters one managed lifecycle; named workflows decide
what happens next. See ``docs/`` and the README for the picture.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
