"""Intake: every channel's payload -> inbox (raw, kept) -> verify -> parse -> enrich -> order.

``base`` defines what an adapter is; ``adapters`` holds one module per channel adapter
and the registry; ``pipeline`` runs a delivery through the steps.
"""
