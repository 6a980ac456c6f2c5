"""The OpenAPI schema class (``DEFAULT_SCHEMA_CLASS``): drf-spectacular's, plus what every
endpoint of this API does without each view having to say so, so the schema declares every
answer a client can get (the schema fuzzing test, ``tests/test_schema_fuzz.py``, checks
each one):

- 400 ``{"code","detail","fields"}`` when the operation takes a body or query parameters;
- 401 when it authenticates (a missing, bad or expired token), even on public reads: a
  bad token is refused, not ignored;
- 404 when its path names an object (an unknown or someone else's id);
- optional query parameters may be sent empty (``?start=``), which means "not given"
  (DRF reads form-style input so), hence ``allowEmptyValue``.

Codes a view declares itself (with their descriptions) are kept as they are.
"""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework.permissions import AllowAny

from skilllink.errors import ErrorSerializer

IMPLIED_DESCRIPTIONS = {
    "400": "`invalid` (with `fields`): the input was refused.",
    "401": "`not_authenticated`, `token_invalid`: no valid credentials.",
    "404": "`not_found`: no such object, or not one of yours.",
}


class AutoSchema(SpectacularAutoSchema):
    def _authenticates(self) -> bool:
        if self.view.get_authenticators():
            return True
        return not all(isinstance(p, AllowAny) for p in self.view.get_permissions())

    def _implied_error_codes(self, operation: dict) -> list[str]:
        parameters = operation.get("parameters", [])
        codes = []
        if "requestBody" in operation or any(p["in"] == "query" for p in parameters):
            codes.append("400")
        if self._authenticates():
            codes.append("401")
        if any(p["in"] == "path" for p in parameters):
            codes.append("404")
        return codes

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
        responses = operation.setdefault("responses", {})
        for code in self._implied_error_codes(operation):
            if code not in responses:
                responses[code] = self._get_response_for_code(ErrorSerializer, code)
                responses[code]["description"] = IMPLIED_DESCRIPTIONS[code]
        operation["responses"] = dict(sorted(responses.items()))
        return operation
