"""People and their accounts: users, passwords, sessions, sign-in, one-time tokens,
groups, the roster import and the audit log.
"""
