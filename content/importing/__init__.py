"""Taking a package in at a facility: the importer, the content store and the flags
for the reviewer.
"""
