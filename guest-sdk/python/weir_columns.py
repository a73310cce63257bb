"""weir's Python SDK, its shared part: the operator's config, the field
types of dataclasses, and columns read into Python lists and written back
(Arrow's layouts, as `weir:dataflow@0.2.0` carries them). Used by `weir`
(transforms, aggregates) and `weir_keyed` (keyed process functions)."""

import builtins
import dataclasses
import itertools
import typing

from componentize_py_types import Err
from wit_world.imports import types as t

# The operator's config from the job file (filled in at `init`).
CONFIG = {}

# Python type → (WIT data types it can be read from, the type it is written as).
_TYPES = {
    int: ({t.DataType.INT64, t.DataType.INT32, t.DataType.TIMESTAMP_MS}, t.DataType.INT64),
    float: ({t.DataType.FLOAT64, t.DataType.FLOAT32, t.DataType.INT64, t.DataType.INT32}, t.DataType.FLOAT64),
    str: ({t.DataType.UTF8}, t.DataType.UTF8),
    bytes: ({t.DataType.BINARY}, t.DataType.BINARY),
    bool: ({t.DataType.BOOLEAN}, t.DataType.BOOLEAN),
}


def _fields(cls, what):
    """[(name, python type, nullable)] of dataclass `cls`."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"weir: the {what} must be a @dataclass, not {cls!r}")
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        ty, nullable = hints[f.name], False
        args = typing.get_args(ty)
        if typing.get_origin(ty) is typing.Union and type(None) in args:
            rest = [a for a in args if a is not type(None)]
            if len(rest) == 1:
                ty, nullable = rest[0], True
        if ty not in _TYPES:
            raise TypeError(
                f"weir: field `{f.name}` of {cls.__name__} is {ty!r}; use int, float, str, bytes, bool or Optional of one"
            )
        out.append((f.name, ty, nullable))
    return out


def _bit(bits, i):
    return (bits[i >> 3] >> (i & 7)) & 1


def _read(col, rows):
    """A column as a Python list (None where null)."""
    d = col.data
    if isinstance(d, (t.ColumnData_Int64, t.ColumnData_Int32, t.ColumnData_Float64, t.ColumnData_Float32)):
        values = d.value
    elif isinstance(d, t.ColumnData_Utf8):
        o, data = d.value.offsets, d.value.data
        # Slices made by `map` (C), not a Python loop: a row costs no bytecode.
        spans = builtins.map(slice, o[:rows], o[1:rows + 1])
        if data.isascii():
            values = list(builtins.map(data.decode("ascii").__getitem__, spans))
        else:
            values = [data[s].decode("utf-8") for s in spans]
    elif isinstance(d, t.ColumnData_Binary):
        o, data = d.value.offsets, d.value.data
        values = list(builtins.map(data.__getitem__, builtins.map(slice, o[:rows], o[1:rows + 1])))
    elif isinstance(d, t.ColumnData_Boolean):
        values = [bool(_bit(d.value, i)) for i in range(rows)]
    elif isinstance(d, t.ColumnData_Nulls):
        return [None] * rows
    else:
        raise Err(t.OperatorError(f"weir: an input column of kind {type(d).__name__}"))
    if col.validity is not None:
        v = col.validity
        values = [x if _bit(v, i) else None for i, x in enumerate(values)]
    return values


def _bitmap(flags):
    out = bytearray((len(flags) + 7) // 8)
    for i, f in enumerate(flags):
        if f:
            out[i >> 3] |= 1 << (i & 7)
    return bytes(out)


def _var(parts, lengths):
    """Values as one buffer with offsets (Arrow's variable-width layout)."""
    return t.VarData(list(itertools.accumulate(lengths, initial=0)), b"".join(parts))


def _write(values, ty, nullable, name):
    """A Python list as column `name` of the type `ty` is written as. Lists
    are handed on, mapped or joined by C code: no bytecode per value."""
    validity = None
    if None in values:
        if not nullable:
            raise Err(t.OperatorError(
                f"weir: field `{name}` of an output row is None; make it Optional to write nulls"))
        if values.count(None) == len(values):
            return t.Column(None, t.ColumnData_Nulls())
        validity = _bitmap([v is not None for v in values])
        blank = {int: 0, float: 0.0, str: "", bytes: b"", bool: False}[ty]
        values = [blank if v is None else v for v in values]
    if ty is int:
        data = t.ColumnData_Int64(values)
    elif ty is float:
        data = t.ColumnData_Float64(list(builtins.map(float, values)))
    elif ty is str:
        joined = "".join(values)
        if joined.isascii():
            data = t.ColumnData_Utf8(_var([joined.encode("ascii")], builtins.map(len, values)))
        else:
            parts = list(builtins.map(str.encode, values))
            data = t.ColumnData_Utf8(_var(parts, builtins.map(len, parts)))
    elif ty is bytes:
        data = t.ColumnData_Binary(_var(values, builtins.map(len, values)))
    else:
        data = t.ColumnData_Boolean(_bitmap(values))
    return t.Column(validity, data)


def _columns(fields, batch):
    """The batch's columns as lists, and the rows with a null where the
    input class does not allow one ({row: field})."""
    columns = [_read(c, batch.rows) for c in batch.columns]
    bad = {}
    for (name, _, nullable), col, values in zip(fields, batch.columns, columns):
        if not nullable and col.validity is not None:
            for i, v in enumerate(values):
                if v is None:
                    bad.setdefault(i, name)
    return columns, bad
