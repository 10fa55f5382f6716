"""Running the box: health checks, backups and restore, upgrades and migrations,
metrics and logs.
"""
