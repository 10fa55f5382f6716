"""What a learner does: which courses they may open, progress, quizzes, workbooks,
certificates, assignments and plans.
"""

# Progress hands draft events to workbooks and written tasks, SCORM data to scorm and H5P
# statements to h5p, each of which registers for them when imported: load them with the
# package, so no way into progress can find a handler missing.
from server.learning import h5p as _h5p  # noqa: F401
from server.learning import scorm as _scorm  # noqa: F401
from server.learning import workbooks as _workbooks  # noqa: F401
from server.learning import written as _written  # noqa: F401
