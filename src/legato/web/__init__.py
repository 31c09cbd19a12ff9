"""The control tower: server-rendered pages (Jinja2 + htmx) on the API's app.

``mount(app, rt)`` adds them to an app made by ``legato.api.app.create_app``; the two are
siblings (neither imports the other), so the layer above both does it: ``legato serve``
(``legato.cli.asgi``) and the tests.
"""

from legato.web.app import mount

__all__ = ["mount"]
