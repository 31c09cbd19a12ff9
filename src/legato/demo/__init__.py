"""A realistic, deterministic demo data set, loaded through the services only.

``plan`` draws everything from one seeded random generator without touching the
database; ``load`` writes it through the use cases a real caller uses; ``tables``
holds the data the plan draws from.
"""

from legato.demo.load import DemoSummary, load_demo
from legato.demo.plan import demo_dataset

__all__ = ["DemoSummary", "demo_dataset", "load_demo"]
