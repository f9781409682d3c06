"""Setup links for a customer's IT admin: the link, the setup session it opens, and the setup page's API."""
