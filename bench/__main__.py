"""`python -m bench` (make bench): every benchmark, one after the other."""

import sys

from bench import core, imports, intake, pricing, web, workflow

sys.exit(
    core.main(sys.argv[1:])
    or intake.main(sys.argv[1:])
    or pricing.main([])
    or imports.main([])
    or workflow.main(sys.argv[1:])
    or web.main(sys.argv[1:])
    or __import__("bench.allocation").allocation.main(sys.argv[1:])
    or __import__("bench.atp").atp.main(sys.argv[1:])
)
