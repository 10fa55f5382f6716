"""Course format, safe rendering and deterministic packages.

This package has no web code and never imports ``server`` or ``search_index``.
The public entry points are re-exported here so callers need not know the module layout.
"""

from content.errors import ContentError, LintFailed, PackageError, Problem, Severity
from content.lint import lint_course
from content.package import build_package
from content.reader import PackageInfo, inspect_package, read_package
from content.sanitize import SanitizeResult, sanitize_html

__all__ = [
    "ContentError",
    "LintFailed",
    "PackageError",
    "PackageInfo",
    "Problem",
    "SanitizeResult",
    "Severity",
    "build_package",
    "inspect_package",
    "lint_course",
    "read_package",
    "sanitize_html",
]
