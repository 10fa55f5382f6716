"""Converters from other course formats into Stepstone course folders, on the author's side.

What they write is a starting point the author edits, lints and builds; a facility never
takes in anything but signed packages built from a course folder.
"""
