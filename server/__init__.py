"""Stepstone: a secure learning-content server for tablets in correctional facilities."""

__version__ = "0.1.0"
