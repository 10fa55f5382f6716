"""HTTP views: thin functions that parse a request, call the domain, and render."""
