"""`python -m bench` (make bench): every benchmark, one after the other."""

import sys

from bench import core, intake

sys.exit(core.main(sys.argv[1:]) or intake.main(sys.argv[1:]))
