"""Security headers of the pages for people: a strict CSP (no inline script or style), no caching of
anything that carries a sign-in, no referrer. No Cross-Origin-Opener-Policy on the callback: Microsoft's
pages already cut the popup from its opener, and a COOP on our side would only break it further."""

from urllib.parse import urlsplit

__all__ = ["page_headers"]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def page_headers(*, connect: tuple[str, ...] = (), images: tuple[str, ...] = ()) -> dict[str, str]:
    """Headers for one page; `connect` and `images` are URLs whose origins the page's script may reach."""
    connect_src = " ".join(["'self'", *sorted({_origin(u) for u in connect})])
    img_src = " ".join(["'self'", *sorted({_origin(u) for u in images})])
    policy = (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src {img_src}; connect-src {connect_src}; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
