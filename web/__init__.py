"""Web pages: Jinja2 templates, static assets, page handlers and translations."""
