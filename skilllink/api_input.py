"""Input the API accepts, made safe: hostile or malformed values become a 400, never a 500.

- ``JSONParser``: DRF's parser, but a body nested deeper than Python's recursion limit
  (``[[[[…]]]]`` 5,000 deep) is a ``ParseError`` (400 ``invalid``) instead of a
  ``RecursionError``.
- ``IdField``: an integer id; values a database cannot hold (beyond 64 bits, negative)
  are refused before they reach a query.
- ``MomentField``: an ISO 8601 moment within years ``MOMENT_MIN_YEAR`` to ``MOMENT_MAX_YEAR``,
  so a value near ``datetime.max`` can never overflow when it is shifted to a viewer's
  time zone or compared with a bound a few hours away.
- ``PageField``: a limit or offset with a maximum.
- ``IdConverter``: the ``<id:...>`` path converter, at most 18 digits (64-bit ids), so a
  longer number in a URL is a 404 like any unknown id.
- ``BodySerializer``: the base of serializers that read a JSON body. A value must have the
  JSON type the schema gives its field: DRF alone reads ``5`` as the text ``"5"``, ``"5"``
  as the number 5 and ``0`` as false, which the schema does not promise (found by the
  schema fuzzing test).
"""

from collections.abc import Mapping
from datetime import datetime

from django.utils.translation import gettext_lazy as _
from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError

MAX_ID = 2**63 - 1
MOMENT_MIN_YEAR = 1900
MOMENT_MAX_YEAR = 2999


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None


def _json_types(field: serializers.Field) -> tuple[type, ...] | None:
    """The JSON types a field's value may have in a body (None: not checked here)."""
    if isinstance(field, serializers.BooleanField):
        return (bool,)
    if isinstance(field, serializers.IntegerField):
        return (int,)
    if isinstance(field, (serializers.CharField, serializers.DateTimeField)):
        return (str,)
    if isinstance(field, serializers.ChoiceField) and all(
        isinstance(choice, str) for choice in field.choices
    ):
        return (str,)
    return None


def _json_type_name(types: tuple[type, ...]) -> str:
    return {(bool,): "true or false", (int,): "a whole number", (str,): "a string"}[types]


class BodySerializer(serializers.Serializer):
    """Reads a JSON body: each field's value must have its field's JSON type (null aside,
    which the field itself accepts or refuses). Every refused field is reported at once."""

    def to_internal_value(self, data):
        type_errors = {}
        if isinstance(data, Mapping):
            for field in self._writable_fields:
                value = data.get(field.field_name)
                types = _json_types(field)
                if value is None or types is None:
                    continue
                wrong_bool = isinstance(value, bool) and bool not in types
                if wrong_bool or not isinstance(value, types):
                    type_errors[field.field_name] = [f"Must be {_json_type_name(types)}."]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {}
            raise serializers.ValidationError({**detail, **type_errors}) from None
        if type_errors:
            raise serializers.ValidationError(type_errors)
        return value


class IdField(serializers.IntegerField):
    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class PageField(serializers.IntegerField):
    """``limit``/``offset``: bounded, so the database never sees an absurd OFFSET."""

    def __init__(self, *, max_value: int, **kwargs):
        kwargs.setdefault("min_value", 0)
        super().__init__(max_value=max_value, **kwargs)


def moment_in_range(value: datetime) -> bool:
    return MOMENT_MIN_YEAR <= value.year <= MOMENT_MAX_YEAR


class MomentField(serializers.DateTimeField):
    default_error_messages = {
        "out_of_range": _(f"Give a date between {MOMENT_MIN_YEAR} and {MOMENT_MAX_YEAR}."),
    }

    def to_internal_value(self, value):
        try:
            moment = super().to_internal_value(value)
        except OverflowError:  # shifting a moment near datetime.max/min to UTC
            self.fail("out_of_range")
        if not moment_in_range(moment):
            self.fail("out_of_range")
        return moment


class IdConverter:
    """Path converter for object ids: 1 to 18 digits (a 19th could pass 64 bits)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
