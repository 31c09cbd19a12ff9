"""Outbound clients the workflow actions use: HTTP (webhooks, call_http), the ERP payload and
destinations, email, SMS. They live inside ``legato.workflow`` because actions may not import
``legato.connectors`` (a sibling layer)."""
