"""Course content: the format (``format``), packages (``package``), signed delivery
(``tuf``) and the strict import at a facility (``importing``), with ``errors``, ``durable``
and ``progress_bar`` shared by all four.

This package has no web code and never imports ``server`` or ``search_index``. Import
what you need from its modules: nothing is gathered here, so that reading a lesson's data
does not load the linter, the builder and JSON Schema (about 0.3 s in every process).
"""
