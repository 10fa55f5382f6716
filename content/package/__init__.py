"""Course packages: the manifest, the builder, the tar writer and reader, and the
strict extractor.
"""
