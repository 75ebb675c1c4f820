"""Counting: the engine that runs each metric's SQL (metrics/, one file per metric code) and the named
queries (queries/) over the store, and scoring — rate to points and grades by the profile. Imports the root
modules and the store only."""
