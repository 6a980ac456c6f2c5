"""docs/api.md and docs/openapi.yaml stay in step with the code: every API URL pattern is
documented (and nothing documented is missing), and the committed schema is the one the
server generates."""

import re
from pathlib import Path

from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver

DOCS = Path(__file__).resolve().parent.parent / "docs"
ENDPOINT = re.compile(r"`(GET|POST|PATCH|PUT|DELETE) (/api/[^\s`?]*)")
NOT_DOCUMENTED_HERE = {"/api/schema/", "/api/docs/"}  # the docs themselves


def _normalise(path: str) -> str:
    """``/api/bookings/<id>/`` and ``/api/bookings/{booking_id}/`` alike."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "<x>", path)


def _api_patterns(resolver=None, prefix: str = "") -> set[str]:
    resolver = resolver or get_resolver()
    found = set()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found |= _api_patterns(entry, route)
        elif isinstance(entry, URLPattern) and route.startswith("api/"):
            found.add(_normalise("/" + route))
    return found


def _documented() -> set[tuple[str, str]]:
    text = (DOCS / "api.md").read_text()
    return {(method, _normalise(path)) for method, path in ENDPOINT.findall(text)}


def _schema_operations() -> set[tuple[str, str]]:
    import yaml

    schema = yaml.safe_load((DOCS / "openapi.yaml").read_text())
    return {
        (method.upper(), _normalise(path))
        for path, operations in schema["paths"].items()
        for method in operations
        if method in {"get", "post", "patch", "put", "delete"}
    }


def test_every_api_url_pattern_is_in_the_docs_and_the_docs_name_no_other():
    documented_paths = {path for _, path in _documented()}
    patterns = _api_patterns() - {_normalise(p) for p in NOT_DOCUMENTED_HERE}
    assert patterns - documented_paths == set(), "URL patterns missing from docs/api.md"
    assert documented_paths - patterns == set(), "docs/api.md names paths that do not exist"


def test_every_operation_in_the_schema_is_in_the_docs_with_its_method():
    assert _schema_operations() == _documented()


def test_the_committed_openapi_schema_is_the_one_the_server_generates(tmp_path):
    generated = tmp_path / "openapi.yaml"
    call_command("spectacular", "--file", str(generated), "--validate", "--fail-on-warn")
    committed = (DOCS / "openapi.yaml").read_text()
    assert generated.read_text() == committed, (
        "docs/openapi.yaml is stale: run `make openapi` and commit it"
    )
