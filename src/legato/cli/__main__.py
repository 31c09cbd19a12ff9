"""``python -m legato.cli``: the same as the ``legato`` command."""

from legato.cli import main

main()
