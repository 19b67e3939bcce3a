"""axe-core, the accessibility engine, run inside a page that Debian's chromium shows.

The engine is the npm package at the version tests/package-lock.json pins
(``./install.sh --test`` runs ``npm ci`` in tests/). It goes into the page through
Playwright; the context bypasses the page's CSP for that one script, so the booth's
own CSP stays what guests get.
"""

from __future__ import annotations

from pathlib import Path

import pytest

AXE_JS = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"

#: The languages the accessibility tests run in: each sets the browser's locale and
#: Accept-Language (a phone's choice).
LANGUAGES = ["en", "ar"]


def context_for(browser, lang: str, **options):
    """A fresh browser context that speaks ``lang`` and lets axe-core in."""
    return browser.new_context(locale=lang, extra_http_headers={"Accept-Language": lang},
                               bypass_csp=True, **options)


def violations(page) -> list[dict]:
    """axe-core's violations of every impact on the page as it is now: each rule's id,
    impact, help and the first few offending elements."""
    if not AXE_JS.is_file():
        pytest.fail(f"axe-core is missing ({AXE_JS}): run ./install.sh --test", pytrace=False)
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE_JS))
    found = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ["violations"]});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 4).map(n => n.target.join(" ") + " :: " + n.failureSummary)}));
    }""")
    return found


def report(name: str, found: list[dict]) -> str:
    """One line a page (its violation count), then each violation's rule and elements."""
    lines = [f"axe {name}: {len(found)} violation(s)"]
    for v in found:
        lines.append(f"  {v['impact']} {v['id']}: {v['help']}")
        lines.extend(f"    {node}" for node in v["nodes"])
    return "\n".join(lines)
