"""The sample province: its raw exports (province, the national sync payloads), written from the root
layer alone, and its portal responses and self-assessments, which score a store of its recent months and
so may import load, store, count and analysis — never report, notebook or cli."""
from kpi.sample.portal import generate
from kpi.sample.province import END_MONTH, RUNNING_UNTIL

__all__ = ["generate", "END_MONTH", "RUNNING_UNTIL"]
