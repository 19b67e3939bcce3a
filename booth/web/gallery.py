"""The guests' side: the gallery (``/``), each photo's page and its images and QR codes.

A photo's page (``/p/<id>``) is what its QR code opens; it always works for whoever
has the link. The gallery index lists everybody's photos, so it is open only when
``[web] gallery_index = "public"`` (otherwise the organiser must log in).

The gallery lists anime portraits only. The original (the unedited photo) follows
``[web] originals``: with "owner" it is reached only through the photo's own QR link,
``/p/<id>?k=<owner key>`` (the key is the store's per-photo ``owner_key``, never in
a listing); "public" shows it to anyone with the page, "off" to the organiser only.

The photo's own link also lets its owner delete it ("Delete my photo", with a
confirmation): :meth:`Booth.delete_photo` takes it out of the store, the print queue
and the kiosk at once, and every link of it then answers the friendly 404.

Images are looked up by id in the store and sent with an ETag, to be checked again
on every view (``no-cache``): a phone on the event's Wi-Fi downloads each thumbnail
once (then a bodiless 304), and a deleted photo is gone from it too.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, render_template, request, send_file, url_for

from booth import qr
from booth.config import contrast
from booth.web.access import csrf_ok, is_admin
from booth.web.contract import get_booth
from booth.web.paging import requested_page
from booth.words import N_

bp = Blueprint("gallery", __name__)

#: Thumbnails per gallery page.
PAGE_SIZE = 24
#: Phones keep images but ask again each time (a 304 without the bytes): a deleted
#: photo must not live on in their caches.
IMAGE_CACHE = "private, no-cache"
_IMAGE_KINDS = {"anime.jpg": "anime", "original.jpg": "original", "thumb.jpg": "thumb"}


def index_allowed() -> bool:
    """The gallery index (and the photo list API) is open to this visitor."""
    return get_booth().settings.web.gallery_index == "public" or is_admin()


@bp.get("/")
def index():
    if not index_allowed():
        return render_template("private.html"), 403
    listing = requested_page(get_booth().store, PAGE_SIZE)
    return render_template("gallery.html", photos=listing.photos, page=listing.number,
                           pages=listing.pages, total=listing.total)


def _photo_or_404(photo_id: str):
    photo = get_booth().store.get(photo_id)
    if photo is None:
        abort(404, N_("There is no photo with this link (it may have been deleted)."))
    return photo


#: The query parameter that carries a photo's owner key.
OWNER_KEY_PARAM = "k"


def has_owner_key(photo) -> bool:
    """The request carries this photo's owner key (from its QR link; in a form's field
    when it deletes the photo)."""
    given = request.values.get(OWNER_KEY_PARAM, "")
    return bool(photo.owner_key) and hmac.compare_digest(given.encode(), photo.owner_key.encode())


def original_allowed(photo) -> bool:
    """This visitor may see the photo's original (``[web] originals``; the organiser always)."""
    mode = get_booth().settings.web.originals
    return photo.original_kept and (mode == "public" or is_admin()
                                    or (mode == "owner" and has_owner_key(photo)))


def may_delete(photo) -> bool:
    """The photo's owner (its own QR link) or the organiser may delete it."""
    return is_admin() or has_owner_key(photo)


def owner_url(photo) -> str:
    """The photo's own link, the one its QR code holds: the public share page with
    ``[sync] qr = "public"``, else the booth's page with the owner key."""
    settings = get_booth().settings
    if settings.sync.public_url and settings.sync.qr == "public" and photo.owner_key:
        return qr.share_url(settings, photo.owner_key)
    return booth_owner_url(photo)


def booth_owner_url(photo) -> str:
    """The photo's own link on the booth, with the owner key (the original, with
    ``[web] originals = "owner"``, and the guest's own delete)."""
    return f"{qr.photo_url(get_booth().settings, photo.id)}?{OWNER_KEY_PARAM}={photo.owner_key}"


def _shared_url(photo) -> str:
    """The link to show and encode for this visitor: the owner's link only to whoever
    already has it (or the organiser); the plain page link to everybody else."""
    return owner_url(photo) if is_admin() or has_owner_key(photo) else qr.photo_url(get_booth().settings, photo.id)


def _key_args(photo) -> dict:
    return {OWNER_KEY_PARAM: photo.owner_key} if has_owner_key(photo) else {}


@bp.get("/p/<photo_id:photo_id>")
def photo_page(photo_id: str):
    photo = get_booth().store.get(photo_id)
    if photo is None:  # a guest scanned a code or followed a link: they typed nothing
        return render_template("photo_gone.html", show_gallery_link=index_allowed()), 404
    original = None
    if original_allowed(photo):
        original = url_for("gallery.image", photo_id=photo.id, name="original.jpg", **_key_args(photo))
    delete_url = (url_for("gallery.confirm_delete", photo_id=photo.id, **_key_args(photo))
                  if may_delete(photo) else None)
    settings = get_booth().settings
    public = (qr.share_url(settings, photo.owner_key)
              if settings.sync.public_url and photo.owner_key and (is_admin() or has_owner_key(photo)) else None)
    return render_template("photo.html", photo=photo, url=_shared_url(photo), original_url=original,
                           public_url=public,
                           qr_url=url_for("gallery.qr_code", photo_id=photo.id, kind="svg", **_key_args(photo)),
                           show_gallery_link=index_allowed(), delete_url=delete_url)


def _deletable_or_refuse(photo_id: str):
    """The photo, if this visitor may delete it; the friendly 404 when it is gone, a 403
    without its owner key."""
    photo = get_booth().store.get(photo_id)
    if photo is None:
        return None, (render_template("photo_gone.html", show_gallery_link=index_allowed()), 404)
    if not may_delete(photo):
        abort(403, N_("Only the photo's own link (its QR code) can delete it."))
    return photo, None


@bp.get("/p/<photo_id:photo_id>/delete")
def confirm_delete(photo_id: str):
    """Deleting is for good: one more look at the photo and a second, explicit press."""
    photo, refusal = _deletable_or_refuse(photo_id)
    if refusal:
        return refusal
    return render_template("photo_delete.html", photo=photo, owner_key=request.values.get(OWNER_KEY_PARAM, ""),
                           back=url_for("gallery.photo_page", photo_id=photo.id, **_key_args(photo)))


@bp.post("/p/<photo_id:photo_id>/delete")
def delete(photo_id: str):
    photo, refusal = _deletable_or_refuse(photo_id)
    if refusal:
        return refusal
    if not csrf_ok():
        abort(400, N_("This form has expired; reload the page and try again."))
    booth = get_booth()
    if not booth.delete_photo(photo.id, "organiser" if is_admin() else "guest") and booth.store.get(photo.id):
        abort(409, N_("This photo can be deleted only at the booth that took it."))
    return render_template("photo_gone.html", deleted=True, show_gallery_link=index_allowed())


@bp.get("/p/<photo_id:photo_id>/<any('anime.jpg', 'original.jpg', 'thumb.jpg'):name>")
def image(photo_id: str, name: str):
    store = get_booth().store
    photo = _photo_or_404(photo_id)
    if name == "original.jpg" and not original_allowed(photo):
        abort(404, N_("The original photo is shared only through the photo's own QR code."))
    return _send_stored(store.file_path(photo_id, _IMAGE_KINDS[name]), photo_id, name)


#: A strip's and a boomerang's own files (see booth.daemon.store), by their type.
EXTRA_TYPES = {"strip.jpg": "image/jpeg", "boomerang.mp4": "video/mp4", "boomerang.webp": "image/webp"}


@bp.get("/p/<photo_id:photo_id>/<any('strip.jpg', 'boomerang.mp4', 'boomerang.webp'):name>")
def extra(photo_id: str, name: str):
    """A strip's 2x6 strip, a boomerang's clip (MP4, or the animated WebP fallback)."""
    _photo_or_404(photo_id)
    return _send_stored(get_booth().store.extra_path(photo_id, name), photo_id, name)


def _send_stored(path, photo_id: str, name: str):
    """One stored file of a photo, cached for long (an id never changes its files); with
    ``?download=1`` as an attachment. Range requests work (a phone's video player)."""
    store = get_booth().store
    if path is None:
        abort(404, N_("There is no photo with this link."))
    # Belt and braces: whatever the store returns must be inside the store.
    if not path.resolve().is_relative_to(store.root.resolve()):
        abort(404, N_("There is no photo with this link."))
    try:
        response = send_file(path, mimetype=EXTRA_TYPES.get(name, "image/jpeg"), conditional=True,
                             etag=True, max_age=None, download_name=f"anime-booth-{photo_id[:8]}-{name}")
    except FileNotFoundError:  # deleted between the lookup and the read
        abort(404, N_("There is no photo with this link."))
    response.headers["Cache-Control"] = IMAGE_CACHE
    if request.args.get("download") == "1":
        response.headers["Content-Disposition"] = (
            f'attachment; filename="anime-booth-{photo_id[:8]}-{name}"')
    return response


def _qr_bytes(url: str, kind: str) -> bytes:
    # Not cached: a photo's link must not outlive its delete, even in memory.
    return qr.svg(url) if kind == "svg" else qr.png(url)


@bp.get("/p/<photo_id:photo_id>/qr.<any('svg', 'png'):kind>")
def qr_code(photo_id: str, kind: str):
    photo = _photo_or_404(photo_id)
    url = _shared_url(photo)
    mimetype = "image/svg+xml" if kind == "svg" else "image/png"
    response = Response(_qr_bytes(url, kind), mimetype=mimetype)
    response.headers["Cache-Control"] = "private, max-age=3600"
    # An SVG opened on its own must not run anything.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response.add_etag()
    return response.make_conditional(request)


def readable_on(background: str, light: str = "#ffffff", dark: str = "#16121c") -> str:
    """White or near-black text, whichever reads better on ``background``."""
    return light if contrast(light, background) >= contrast(dark, background) else dark


#: The family name the theme's own font file gets in the pages' CSS.
THEME_FONT_FAMILY = "booth-theme"
FONT_TYPES = {".ttf": "font/ttf", ".otf": "font/otf"}


def theme_css(settings) -> str:
    """The event's look (``[theme]``) as CSS variables: its colours, text colours picked
    for contrast, and its font (a font file is served from /theme/font)."""
    theme = settings.theme
    accent, background = theme.accent_color, theme.background_color
    ink = readable_on(background, light="#f6f3fb")
    muted = "#cfc7dd" if ink == "#f6f3fb" else "#4a4257"
    css = (f":root{{--accent:{accent};--bg:{background};--on-accent:{readable_on(accent)};"
           f"--ink:{ink};--muted:{muted};}}\n")
    if settings.font_file is not None:
        css += (f'@font-face{{font-family:"{THEME_FONT_FAMILY}";src:url(/theme/font);font-display:swap;}}\n'
                f':root{{--theme-font:"{THEME_FONT_FAMILY}";}}\n')
    elif theme.font:
        css += f':root{{--theme-font:"{theme.font}";}}\n'
    return css


@bp.get("/theme.css")
def theme():
    """The event's colours from the config as CSS variables (no inline styles: CSP),
    with text colours picked for contrast, whatever colours the organiser chose."""
    response = Response(theme_css(get_booth().settings), mimetype="text/css")
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/theme/logo")
def logo():
    """The organiser's logo. Pages show it as an <img> only, where an SVG's scripts never
    run; opened directly it is sandboxed too."""
    path = get_booth().settings.logo_path
    if path is None:
        abort(404, N_("This booth has no logo."))
    kind = path.suffix.lower()
    response = send_file(path, mimetype="image/svg+xml" if kind == ".svg" else "image/png",
                         conditional=True, etag=True, max_age=None)
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/theme/font")
def font():
    """The organiser's font file (``[theme] font``), for the pages' @font-face."""
    path = get_booth().settings.font_file
    if path is None:
        abort(404, N_("This booth uses an installed font."))
    response = send_file(path, mimetype=FONT_TYPES.get(path.suffix.lower(), "font/ttf"), conditional=True,
                         etag=True, max_age=None)
    response.headers["Cache-Control"] = "no-cache"
    return response
