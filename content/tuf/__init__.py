"""Signed delivery with TUF: the publisher's repository and keys, its status and
export, the facility's updater, its sources and the target stream.
"""
