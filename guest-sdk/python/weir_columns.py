"""weir's Python SDK, its shared part: the operator's config, the field
types of dataclasses, and columns read into Python lists and written back
(Arrow's layouts, as `weir:dataflow@0.2.0` carries them). Used by `weir`
(transforms, aggregates) and `weir_keyed` (keyed process functions)."""

import array
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
    # Lists (a list column; its items are never None).
    list[int]: ({t.DataType.LIST_INT64}, t.DataType.LIST_INT64),
    list[float]: ({t.DataType.LIST_FLOAT64}, t.DataType.LIST_FLOAT64),
    list[str]: ({t.DataType.LIST_UTF8}, t.DataType.LIST_UTF8),
    list[bool]: ({t.DataType.LIST_BOOLEAN}, t.DataType.LIST_BOOLEAN),
}

# How packed values of a WIT data type read (`array`/`memoryview` codes,
# little-endian as Wasm is).
_PACKED = {
    t.DataType.INT64: "q", t.DataType.TIMESTAMP_MS: "q", t.DataType.INT32: "i",
    t.DataType.FLOAT64: "d", t.DataType.FLOAT32: "f",
}

# What a null is written as, under its validity bit.
_BLANK = {int: 0, float: 0.0, str: "", bytes: b"", bool: False}


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
        if typing.get_origin(ty) is list:
            ty = list[typing.get_args(ty)]  # typing.List[str] is list[str]
        if ty not in _TYPES:
            raise TypeError(
                f"weir: field `{f.name}` of {cls.__name__} is {ty!r}; use int, float, str, bytes, bool, "
                "a list[] of int, float, str or bool, or Optional of one"
            )
        out.append((f.name, ty, nullable))
    return out


def _bit(bits, i):
    return (bits[i >> 3] >> (i & 7)) & 1


def _spans(o, rows):
    """Row i's range of a buffer with offsets `o`, as slices (made by `map`,
    C code, not a Python loop: a row costs no bytecode)."""
    return builtins.map(slice, o[:rows], o[1:rows + 1])


def _text(v, rows):
    """Text values of a buffer with offsets."""
    o, data = v.offsets, v.data
    if data.isascii():
        return list(builtins.map(data.decode("ascii").__getitem__, _spans(o, rows)))
    return [data[s].decode("utf-8") for s in _spans(o, rows)]


def _plain(d, rows):
    """The values of a column's (or a list's items') data; None: not a kind
    with values of its own."""
    if isinstance(d, (t.ColumnData_Int64, t.ColumnData_Int32, t.ColumnData_Float64, t.ColumnData_Float32,
                      t.ItemData_Int64, t.ItemData_Int32, t.ItemData_Float64, t.ItemData_Float32)):
        return d.value
    if isinstance(d, (t.ColumnData_Utf8, t.ItemData_Utf8)):
        return _text(d.value, rows)
    if isinstance(d, t.ColumnData_Binary):
        o, data = d.value.offsets, d.value.data
        return list(builtins.map(data.__getitem__, _spans(o, rows)))
    if isinstance(d, (t.ColumnData_Boolean, t.ItemData_Boolean)):
        return [bool(_bit(d.value, i)) for i in range(rows)]
    return None


def _unpack(p, dtype, rows):
    """A packed column's values (see `column-data.packed` in the WIT)."""
    code = _PACKED.get(dtype)
    if code is not None:
        return memoryview(p.values).cast(code).tolist()
    v = t.VarData(memoryview(p.offsets).cast("I").tolist(), p.values)
    if dtype == t.DataType.UTF8:
        return _text(v, rows)
    return list(builtins.map(v.data.__getitem__, _spans(v.offsets, rows)))


def _read(col, rows, dtype=None):
    """A column (of WIT type `dtype`, for packed data) as a Python list
    (None where null)."""
    d = col.data
    values = _plain(d, rows)
    if values is not None:
        pass
    elif isinstance(d, t.ColumnData_Packed):
        values = _unpack(d.value, dtype, rows)
    elif isinstance(d, t.ColumnData_Lists):
        o = d.value.offsets
        items = _plain(d.value.items, o[rows] if rows else 0)
        values = list(builtins.map(items.__getitem__, _spans(o, rows)))
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
        blank = _BLANK.get(ty, [])
        values = [blank if v is None else v for v in values]
    item = typing.get_args(ty)
    if item:
        items = list(itertools.chain.from_iterable(values))
        if None in items:
            raise Err(t.OperatorError(f"weir: field `{name}` of an output row holds None in its list; list items cannot be None"))
        kind, v = _data(items, item[0])
        offsets = list(itertools.accumulate(builtins.map(len, values), initial=0))
        return t.Column(validity, t.ColumnData_Lists(t.ListData(offsets, getattr(t, "ItemData_" + kind)(v))))
    return t.Column(validity, _packed(values, ty, name))


def _packed(values, ty, name):
    """Column data of Python values of type `ty`, none of them None: packed
    bytes where the type allows (one C call, not one lift per value)."""
    try:
        if ty is int:
            return t.ColumnData_Packed(t.PackedData(array.array("q", values).tobytes(), None))
        if ty is float:
            return t.ColumnData_Packed(t.PackedData(array.array("d", values).tobytes(), None))
    except OverflowError:
        raise Err(t.OperatorError(f"weir: field `{name}` of an output row does not fit in 64 bits"))
    kind, v = _data(values, ty)
    if kind in ("Utf8", "Binary"):
        offsets = array.array("I", v.offsets).tobytes()
        return t.ColumnData_Packed(t.PackedData(v.data, offsets))
    return getattr(t, "ColumnData_" + kind)(v)


def _indices(rows):
    """Row indices packed (`selection.packed-indices`, `row-origin.packed-parents`)."""
    return array.array("I", rows).tobytes()


def _data(values, ty):
    """(the kind of column data, its value) of Python values of type `ty`,
    none of them None."""
    if ty is int:
        return "Int64", values
    if ty is float:
        return "Float64", list(builtins.map(float, values))
    if ty is str:
        joined = "".join(values)
        if joined.isascii():
            return "Utf8", _var([joined.encode("ascii")], builtins.map(len, values))
        parts = list(builtins.map(str.encode, values))
        return "Utf8", _var(parts, builtins.map(len, parts))
    if ty is bytes:
        return "Binary", _var(values, builtins.map(len, values))
    return "Boolean", _bitmap(values)


def _columns(fields, batch, types=()):
    """The batch's columns as lists, and the rows with a null where the
    input class does not allow one ({row: field}); `types`: the columns'
    WIT data types, to read them packed."""
    types = types or [None] * len(batch.columns)
    columns = [_read(c, batch.rows, ty) for c, ty in zip(batch.columns, types)]
    bad = {}
    for (name, _, nullable), col, values in zip(fields, batch.columns, columns):
        if not nullable and col.validity is not None:
            for i, v in enumerate(values):
                if v is None:
                    bad.setdefault(i, name)
    return columns, bad
