"""Outbound connectors: Legato calling other systems (rates feeds, later ERP, webhooks, carriers)."""
