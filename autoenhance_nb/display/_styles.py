"""Every stylesheet of the package, in one place: the order table (magic, form, desk),
the form and the gallery. Colours come from JupyterLab's ``--jp-*`` variables (with
fallbacks for Notebook, Voila and static HTML), so light, dark and high-contrast themes
all work; only the badges keep fixed backgrounds, saturated enough for white text in
every theme. No markup here, only the package's own constants."""

from __future__ import annotations

from ._markup import style

__all__ = [
    "ENV_COLOURS",
    "FORM_CSS",
    "GALLERY_CSS",
    "MESSAGE_COLOURS",
    "STATUS_COLOURS",
    "TABLE_CSS",
]

# Status colours are saturated enough for white text on light and dark themes alike.
STATUS_COLOURS = {
    "waiting": "#4b5563",
    "processing": "#1d4ed8",
    "processed": "#15803d",
    "error": "#b91c1c",
    "deleted": "#6b7280",
    "expired": "#6b7280",
}
ENV_COLOURS = {"sandbox": "#b45309", "live": "#15803d"}
MESSAGE_COLOURS = {
    "ok": "var(--jp-success-color1, #15803d)",
    "error": "var(--jp-error-color1, #b91c1c)",
    "warn": "var(--jp-warn-color1, #b45309)",
    "info": "var(--jp-ui-font-color1, inherit)",
}

#: The order table, the messages above it and the frames beside it (magic, form, desk).
TABLE_CSS = style(
    ".autoenhance-table{color:var(--jp-ui-font-color1,inherit);max-width:100%;"
    "container-type:inline-size}"
    ".autoenhance-scroll{overflow-x:auto;max-width:100%}"
    # JupyterLab's rendered-HTML rules centre tables (margin auto), fix their layout and
    # right-align cells: the table's own rules win by specificity
    ".autoenhance-table table.autoenhance-orders{border-collapse:collapse;margin:4px 0 0 0;"
    "font-size:12px;table-layout:auto;width:auto;color:var(--jp-ui-font-color1,inherit)}"
    ".autoenhance-table .autoenhance-orders th,.autoenhance-table .autoenhance-orders td{"
    "border-bottom:1px solid "
    "var(--jp-border-color2,#d1d5db);padding:2px 8px;text-align:left;white-space:nowrap;"
    "max-width:320px;overflow:hidden;text-overflow:ellipsis}"
    ".autoenhance-orders th{background:var(--jp-layout-color2,#eef0f3);"
    "color:var(--jp-ui-font-color1,#111827);font-weight:600}"
    ".autoenhance-badge{color:#fff;padding:1px 6px;border-radius:8px;white-space:nowrap}"
    ".autoenhance-env{color:#fff;padding:1px 6px;border-radius:3px;font-weight:bold}"
    ".autoenhance-table a,.ae-download a{color:var(--jp-content-link-color,#1d4ed8);"
    "text-decoration:underline}"
    ".autoenhance-message{margin:1px 0;white-space:pre-wrap;overflow-wrap:anywhere}"
    # a narrow box (a 600 px window, JupyterLab beside its file browser) keeps the columns
    # a person reads first; long names end in an ellipsis with the whole text as tooltip
    ".autoenhance-table .autoenhance-orders td.ae-col-name{max-width:280px}"
    ".autoenhance-table .autoenhance-orders td.ae-col-order_id{max-width:160px}"
    "@container (max-width:1000px){.autoenhance-table .ae-col-created_at,"
    ".autoenhance-table .ae-col-source{display:none}}"
    "@container (max-width:760px){.autoenhance-table .ae-col-order_id{display:none}"
    ".autoenhance-table .autoenhance-orders td.ae-col-name{max-width:200px}}"
    "@container (max-width:560px){"
    ".autoenhance-table .autoenhance-orders td.ae-col-name{max-width:140px}}"
)

#: The order form (``OrderForm``): its table shrinks with the window.
FORM_CSS = style(
    ".ae-form .ae-table{max-width:100%;min-width:0}"
    ".ae-form .ae-table>.widget-html-content{min-width:0;max-width:100%;flex:1 1 auto}"
)

#: The gallery (``OrderGallery``) and its static fallback.
GALLERY_CSS = style(
    ".ae-gallery{color:var(--jp-ui-font-color1,inherit);max-width:100%}"
    ".ae-gallery .ae-cards{display:flex;flex-flow:row wrap;gap:8px;max-width:100%}"
    ".ae-gallery .ae-card{border:1px solid var(--jp-border-color2,#d1d5db);border-radius:4px;"
    "background:var(--jp-layout-color1,transparent);padding:4px;box-sizing:border-box;"
    "min-width:0;max-width:100%}"
    ".ae-gallery .ae-card.ae-selected{border-color:var(--jp-brand-color1,#1d4ed8);"
    "box-shadow:0 0 0 1px var(--jp-brand-color1,#1d4ed8)}"
    ".ae-gallery .ae-thumb-box{flex:1 1 0;min-width:0}"
    ".ae-gallery .ae-thumb-box>.widget-html-content{min-width:0}"
    ".ae-gallery img.ae-thumb{display:block;width:100%;max-width:160px;height:auto;"
    "border-radius:2px}"
    ".ae-gallery .ae-thumb-empty{width:100%;max-width:160px;height:96px;display:flex;"
    "align-items:center;justify-content:center;font-size:11px;"
    "color:var(--jp-ui-font-color2,#6b7280);background:var(--jp-layout-color2,#eef0f3)}"
    ".ae-gallery .ae-caption{font-size:11px;color:var(--jp-ui-font-color2,#6b7280)}"
    ".ae-gallery .ae-card-title{font-weight:600;white-space:nowrap;overflow:hidden;"
    "text-overflow:ellipsis;max-width:100%}"
    ".ae-gallery .ae-card-meta,.ae-gallery .ae-card-message{font-size:11px;"
    "white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:100%}"
    ".ae-gallery .ae-card-meta{color:var(--jp-ui-font-color2,#6b7280)}"
    ".ae-gallery .widget-html-content{max-width:100%}"
    ".ae-gallery a{color:var(--jp-content-link-color,#1d4ed8);text-decoration:underline}"
    ".ae-gallery-static .ae-static-grid{display:flex;flex-wrap:wrap;gap:8px}"
    ".ae-gallery-static figure{margin:0;max-width:330px}"
    ".ae-gallery-static img{max-width:160px;height:auto}"
)
