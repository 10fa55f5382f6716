"""The author's preview: a course folder shown as a learner's tablet shows it."""
