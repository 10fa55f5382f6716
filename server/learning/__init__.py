"""What a learner does: which courses they may open, progress, quizzes, workbooks,
certificates, assignments and plans.
"""
