"""``python -m tests.workflow_actions ARGS``: the ``legato`` command, with the test actions."""

import sys

from tests.workflow_actions import register

register()

from legato.cli import app  # noqa: E402

sys.exit(app(args=sys.argv[1:], prog_name="legato"))
