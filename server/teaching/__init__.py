"""What an educator sees: dashboards over their scope, workbook review, exports and
the NGO impact report.
"""
