"""Course format, safe rendering and deterministic packages.

This package has no web code and never imports ``server`` or ``search_index``.
The public entry points are re-exported here so callers need not know the module layout.
"""

from content.errors import ContentError, LintFailed, PackageError, Problem, Severity
from content.format.lint import lint_course
from content.format.sanitize import SanitizeResult, sanitize_html
from content.package.build import build_package
from content.package.reader import PackageInfo, inspect_package, read_package

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
