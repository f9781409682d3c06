"""Pages for people: the organisation's login page, Microsoft's redirect target, and the demo app page."""
