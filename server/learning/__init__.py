"""What a learner does: which courses they may open, progress, quizzes, workbooks,
certificates, assignments and plans.
"""

# Progress hands draft events to workbooks, which registers for them when imported: load
# it with the package, so no way into progress can find the handler missing.
from server.learning import workbooks as _workbooks  # noqa: F401
