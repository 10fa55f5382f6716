"""Courses from signed packages to the catalog: trusted publishers, sync, the review
of new versions, the content store's check and the search index's wiring.
"""
