"""`python -m bench` (make bench): every benchmark, one after the other."""

from bench.core import main

raise SystemExit(main())
