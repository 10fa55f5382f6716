"""The ground floor: the database, settings, errors, the clock, file modes and CSV files.

Imports nothing else of the server.
"""
