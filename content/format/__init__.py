"""The course format: the model, YAML and lesson files, the schemas, paths, media
types and limits, the linter, rendering and sanitizing.
"""
