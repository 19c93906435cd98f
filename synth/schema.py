"""The record schema: one table, from which the Parquet schema, the card's features and checks derive.

Its types and checks are `emit.schema`'s (the fuzzer's files have tables of the
same kind).  The table follows `emit.records.build_record`; a test
checks that a fresh record matches it exactly.  Nothing here imports pyarrow
at module level: the main job writes cards without the export extra.
"""

from __future__ import annotations

from typing import Any

import warp_access
from emit.schema import Field, ListOf, Struct

#: Scalar of each Python type a codegen option has.
_SCALAR = {str: "string", int: "int64", bool: "bool"}

MODULE_OPTIONS = Struct(tuple(Field(name, _SCALAR[t], "") for name, t in warp_access.CODEGEN_OPTIONS.items()))
KERNEL_OPTIONS = Struct(
    tuple(Field(name, _SCALAR[t], "", True) for name, t in warp_access.KERNEL_OPTIONS.items())
)

CODEGEN = Struct(
    (
        Field("cuda_arch", "string", "CUDA target architecture (`sm_90`); null for cpu records", True),
        Field("module_options", MODULE_OPTIONS, "the Warp module options Warp's code generator reads"),
        Field(
            "kernel_options",
            KERNEL_OPTIONS,
            "the kernel's own options (`@wp.kernel(enable_backward=False)`); null where not set",
        ),
        Field(
            "link_symbols",
            ListOf("string"),
            "MathDx device functions the CUDA code declares and links from LTO-IR (not in the record)",
        ),
        Field(
            "pythonhashseed",
            "string",
            "PYTHONHASHSEED the code was lowered under (Warp's code depends on it)",
        ),
    )
)

METADATA = Struct(
    (
        Field(
            "seed",
            "int64",
            "the sample's seed: `grammar.sample.sample(seed, focus=policy_focus)` gives back `python_source`",
        ),
        Field("warp_version", "string", "warp-lang version that generated the code"),
        Field("generator_version", "string", "warp-synth generator version"),
        Field("module_file", "string", "file name Warp saw for the module (in its `// file:line` comments)"),
        Field("codegen", CODEGEN, "settings the code depends on, enough to re-lower the record"),
        Field("features", ListOf("string"), "AST features the label was computed from"),
        Field("builtins", ListOf("string"), "Warp builtins the module calls (registry names)"),
        Field("types", ListOf("string"), "Warp types the module spells"),
        Field(
            "policy_focus",
            "string",
            "the kernel type the generation policy aimed at: the seed's own, or under --types one of them",
        ),
        Field("source_sha1", "string", "SHA-1 of `python_source` (exact deduplication)"),
        Field("ast_shape_sha1", "string", "SHA-1 of the AST without names and constants (splits, dedup)"),
    )
)

RECORD = Struct(
    (
        Field(
            "python_source", "string", "the module: `import warp as wp`, `@wp.func` helpers, one `@wp.kernel`"
        ),
        Field(
            "code_forward", "string", "Warp's forward code for the kernel (args struct, kernel, entry point)"
        ),
        Field(
            "code_backward", "string", "the adjoint kernel and entry point; null when Warp emits none", True
        ),
        Field("code_helpers", "string", "structs and `@wp.func` code (forward and adjoint) the kernel calls"),
        Field("device", "string", "`cpu` (C++) or `cuda` (CUDA C++)"),
        Field("kernel_name", "string", "the kernel's name"),
        Field("kernel_type", "string", "label computed from the AST (`grammar/features.py`)"),
        Field("metadata", METADATA, "provenance, codegen settings, features and hashes"),
    )
)


def arrow_schema() -> Any:
    """The Parquet schema (`pyarrow.Schema`); needs the export extra."""
    import pyarrow as pa

    scalars = {"string": pa.string(), "int64": pa.int64(), "bool": pa.bool_()}

    def arrow(t: str | ListOf | Struct) -> Any:
        if isinstance(t, Struct):
            return pa.struct([pa.field(f.name, arrow(f.type), nullable=f.nullable) for f in t.fields])
        if isinstance(t, ListOf):
            return pa.list_(scalars[t.item])
        return scalars[t]

    return pa.schema([pa.field(f.name, arrow(f.type), nullable=f.nullable) for f in RECORD.fields])


def hf_features(struct: Struct = RECORD) -> list[dict[str, Any]]:
    """The card's `dataset_info.features`, in Hugging Face's YAML form."""
    out = []
    for f in struct.fields:
        if isinstance(f.type, Struct):
            out.append({"name": f.name, "struct": hf_features(f.type)})
        elif isinstance(f.type, ListOf):
            out.append({"name": f.name, "list": f.type.item})
        else:
            out.append({"name": f.name, "dtype": f.type})
    return out


def field_lines(struct: Struct = RECORD, prefix: str = "") -> list[str]:
    """One Markdown line per field, nested ones dotted (the card's schema section)."""
    lines = []
    for f in struct.fields:
        name = f"{prefix}{f.name}"
        if f.doc:
            null = ", nullable" if f.nullable else ""
            lines.append(f"- `{name}` ({_type_name(f.type)}{null}): {f.doc}")
        if isinstance(f.type, Struct) and f.type is not MODULE_OPTIONS:
            lines.extend(field_lines(f.type, f"{name}."))
    return lines


def _type_name(t: str | ListOf | Struct) -> str:
    if isinstance(t, Struct):
        return "struct of " + ", ".join(f.name for f in t.fields)
    if isinstance(t, ListOf):
        return f"list of {t.item}"
    return t
