"""Rules for the page scripts that a reader can check without a browser."""

import re
from pathlib import Path

STATIC_JS = Path(__file__).resolve().parent.parent / "static" / "js"
# A call of the browser's own dialogs (not a method or a name that merely ends so).
BROWSER_DIALOG = re.compile(r"(?<![\w.$])(?:window\.)?(confirm|alert|prompt)\s*\(")


def test_no_script_uses_the_browsers_own_dialogs():
    """Confirmations use the page's dialog (static/js/confirm-dialog.js), never confirm()."""
    offenders = []
    for path in sorted(STATIC_JS.rglob("*.js")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            code = line.split("//", 1)[0]
            if BROWSER_DIALOG.search(code):
                offenders.append(f"{path.relative_to(STATIC_JS)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_dialog_rule_would_catch_a_confirm():
    assert BROWSER_DIALOG.search('if (!window.confirm("Delete?")) return;')
    assert BROWSER_DIALOG.search('if (confirm("End?")) end();')
    assert not BROWSER_DIALOG.search("await confirmDialog({ title })")
