"""The domain: pure Python, no I/O, no framework.

Money, the order and its lifecycle, quotes, customer matching and basic pricing live
here as plain dataclasses and functions, so every rule is testable in milliseconds.
"""
