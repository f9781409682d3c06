"""What the login page shows when the browser blocks Microsoft's sign-in window."""

POPUP_HELP: dict[str, str] = {
    "chrome": "Click the blocked pop-up icon at the right end of the address bar, choose 'Always allow pop-ups and "
    "redirects from this site', click Done, then sign in again.",
    "firefox": "Click 'Options' (or 'Preferences') in the yellow bar under the address bar, choose 'Allow pop-ups "
    "for this site', then sign in again.",
    "edge": "Click the blocked pop-up icon at the right end of the address bar, choose 'Always allow pop-ups and "
    "redirects from this site', click Done, then sign in again.",
    "safari": "Open Safari > Settings > Websites > Pop-up Windows, set this site to 'Allow', then sign in again.",
}
