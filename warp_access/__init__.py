"""The bottom layer: every use of Warp's private API (`warp._src`) lives here, and nowhere else.

Every other package imports Warp through this module (or plain public `warp`);
this module imports nothing of warp-synth's.

Warp has no public "give me the generated C++ for this kernel" call, nor a
public builtin registry, so this module reaches into `warp._src`.  It is kept
small and defensive: `check_warp()` asserts the exact pinned version and the
presence of every private name used, and the tests call it, so a changed Warp
fails loudly in CI instead of hanging or silently producing other code.

What it offers, in plain data:
- `builtin_overloads()`: the registry, as (name, group, param types, return type).
- `WarpModule`: a generated Python module loaded into Warp from source text
  under a stable, machine-independent file name, lowered with Warp's own
  `ModuleBuilder` (without libmathdx building the LTO-IR of MathDx calls,
  which no record holds), and released afterwards so memory stays flat.
- `compile_source()`: Warp's own CPU compiler (clang) and NVRTC on C++ text.
- `is_struct()`, `struct_fields()`, `struct_name()`: what a `@wp.struct` class holds
  (Warp has no public struct reflection); `kernel_source()`: a kernel's source text;
  `value_layout()`: the scalar type and shape of a vector or matrix type.
"""

from __future__ import annotations

import contextlib
import io
import linecache
import os
import sys
import tempfile
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

PINNED_WARP_VERSION = "1.19.0"

#: Architecture CUDA code is generated and compiled for (sm_90, Hopper).
CUDA_ARCH = 90

#: The module options `warp._src.codegen` reads (Warp 1.19.0; it reads no `warp.config` directly),
#: with their types: a record's code depends on these, on `CUDA_ARCH` (`output_arch`) and on nothing
#: else of Warp's configuration (the rest, `fast_math`, `cpu_compiler_flags` ..., only affect compiling).
CODEGEN_OPTIONS: dict[str, type] = {
    "block_dim": int,
    "enable_backward": bool,
    "max_unroll": int,
    "mode": str,
    "lineinfo": bool,
    "line_directives": bool,
    "enable_vector_component_overwrites": bool,
    "verify_autograd_array_access": bool,
    "llvm_cuda": bool,
    "default_grid_stride": bool,
    # read by the tile builtins' dispatch (warp._src.builtins): MathDx or Warp's own CUDA code
    "enable_mathdx_gemm": bool,
    "enable_mathdx_solver": bool,
    "enable_mathdx_fft": bool,
}

#: Per-kernel options (`@wp.kernel(enable_backward=False, ...)`) that change a kernel's code, with
#: their types: Warp merges them over the module's options when it emits the kernel.
KERNEL_OPTIONS: dict[str, type] = {
    "enable_backward": bool,
    "grid_stride": bool,
    "launch_bounds": int,
    "cuda_max_registers": int,
    "enable_cuda_smem_spilling": bool,
}

#: Templates that begin the backward part of `codegen_kernel` / `codegen_module` output.
_BACKWARD_TEMPLATES = (
    "cpu_kernel_template_backward",
    "cuda_kernel_template_backward",
    "cuda_kernel_template_backward_grid_stride",
    "cpu_module_template_backward",
    "cpu_block_module_template_backward",
)

#: Private names this module relies on, checked by `check_warp()`.
_PRIVATE_NAMES = {
    "warp._src.context": (
        "builtin_functions",
        "user_modules",
        "function_key_counts",
        "ModuleBuilder",
        "get_module",
    ),
    "warp._src.codegen": (
        "codegen_kernel",
        "codegen_module",
        "codegen_struct",
        "Struct",
        "Adjoint",
        *_BACKWARD_TEMPLATES,
    ),
    "warp._src.build": ("build_cpu", "build_cuda", "_build_lto_base"),
}


#: Private attributes of Warp classes this module relies on, checked by `check_warp()`.
_PRIVATE_ATTRIBUTES = {
    "warp._src.context.ModuleBuilder": ("codegen", "_codegen_functions"),
    "warp._src.codegen.Adjoint": ("resolve_func",),
}


class WarpChanged(RuntimeError):
    """The installed Warp is not the one this generator was written against."""


def warp() -> Any:
    """The `warp` module, imported on first use (importing it costs a second)."""
    import warp

    return warp


def init_warp() -> None:
    """Initialise Warp once, quietly.

    Its banner, and the native "no CUDA driver" warning written straight to
    file descriptor 2 on GPU-less machines, would repeat once per worker.
    """
    wp = warp()
    wp.config.quiet = True
    wp.config.log_level = wp.LOG_WARNING  # not a timing line per module loaded (INFO by default)
    with contextlib.redirect_stdout(io.StringIO()), native_output_silenced(2):
        wp.init()


@contextlib.contextmanager
def native_output_silenced(*fds: int, into: list[str] | None = None) -> Iterator[None]:
    """Keep what native code writes to file descriptors `fds` off the terminal meanwhile.

    Compilers and Warp's runtime write straight to the descriptors, past
    `sys.stdout`/`sys.stderr`; a failing batch in bisection would otherwise
    print pages of expected errors.  With `into`, the text is appended there.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in fds]
    with tempfile.TemporaryFile("w+", errors="replace") as sink:
        for fd in fds:
            os.dup2(sink.fileno(), fd)
        try:
            yield
        finally:
            for fd, copy in zip(fds, saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)
            if into is not None:
                sink.seek(0)
                into.append(sink.read())


def warp_version() -> str:
    return warp().__version__


def check_warp() -> None:
    """Fail loudly if Warp's version or any private name used here changed."""
    import importlib

    version = warp_version()
    if version != PINNED_WARP_VERSION:
        raise WarpChanged(f"warp-lang {version} installed; warp-synth is pinned to {PINNED_WARP_VERSION}")
    for module_name, names in _PRIVATE_NAMES.items():
        module = importlib.import_module(module_name)
        missing = [n for n in names if not hasattr(module, n)]
        if missing:
            raise WarpChanged(f"{module_name} lacks {missing}: Warp's private API changed")
    for owner, attributes in _PRIVATE_ATTRIBUTES.items():
        module_name, _, class_name = owner.rpartition(".")
        cls = getattr(importlib.import_module(module_name), class_name)
        missing = [a for a in attributes if not hasattr(cls, a)]
        if missing:
            raise WarpChanged(f"{owner} lacks {missing}: Warp's private API changed")


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Overload:
    """One concrete overload of a Warp builtin, as plain type names."""

    name: str
    group: str
    params: tuple[tuple[str, str], ...]  # (parameter name, warp type name)
    results: tuple[str, ...]  # one type name, or several for a builtin returning a tuple
    differentiable: bool


def _type_name(t: object) -> str | None:
    """The registry's name of a concrete Warp type, or None for generic or array types."""
    wp = warp()
    if t is float:
        return "float32"
    if t is int:
        return "int32"
    if t is bool or t is wp.bool:
        return "bool"
    name = getattr(t, "__name__", None)
    if not isinstance(t, type) or name is None or t is object:
        return None
    return name


def _result_names(value_type: object) -> tuple[str, ...] | None:
    """Names of a return type: one, or one per element of a tuple return."""
    parts = value_type if isinstance(value_type, tuple) else (value_type,)
    names = tuple(_type_name(t) for t in parts)
    return None if None in names or not names else names  # type: ignore[return-value]


def _resolve(
    overload: object, candidates: tuple[str, ...]
) -> Iterator[tuple[dict[str, str], tuple[str, ...]]]:
    """Concrete instances of an overload whose result type Warp computes (`value_func`).

    Its parameters are concrete, or `typing.Any`: every `Any` parameter then takes the
    same candidate type (as in `where(cond, a, b)`).
    """
    wp = warp()
    inputs = overload.input_types  # type: ignore[attr-defined]
    fixed = {p: _type_name(t) for p, t in inputs.items() if t is not Any}
    if None in fixed.values():
        return
    if len(fixed) == len(inputs):
        candidates = candidates[:1]  # nothing to instantiate: one call of value_func
    for name in candidates:
        concrete = getattr(wp, name)
        arg_types = {p: concrete if t is Any else t for p, t in inputs.items()}
        try:
            results = _result_names(overload.value_func(arg_types, {}))  # type: ignore[attr-defined]
        except Exception:  # the value_func rejects this type: not an instance
            continue
        if results is not None:
            yield {p: name if t is Any else fixed[p] for p, t in inputs.items()}, results  # type: ignore[misc]


def builtin_overloads(candidates: tuple[str, ...] = ()) -> Iterator[Overload]:
    """All concrete overloads of Warp's registered builtins.

    Generic `Any` parameters are instantiated with each of `candidates` (Warp type names).
    """
    from warp._src.context import builtin_functions

    for name, func in sorted(builtin_functions.items()):
        for overload in getattr(func, "overloads", None) or [func]:
            differentiable = bool(overload.is_differentiable)
            params = {p: _type_name(t) for p, t in overload.input_types.items()}
            results = _result_names(overload.value_type)
            if None not in params.values() and results is not None:
                yield Overload(name, func.group, tuple(params.items()), results, differentiable)  # type: ignore[arg-type]
                continue
            for instance, results in _resolve(overload, candidates):
                yield Overload(name, func.group, tuple(instance.items()), results, differentiable)


def builtin_groups() -> dict[str, str]:
    """Each registry builtin's documentation group ("Scalar Math", "Tile Primitives" ...)."""
    from warp._src.context import builtin_functions

    return {name: func.group for name, func in builtin_functions.items()}


def nondifferentiable_builtins(group: str) -> frozenset[str]:
    """Builtins of a documentation group ("Tile Primitives" ...) with an overload not differentiated."""
    from warp._src.context import builtin_functions

    return frozenset(
        name
        for name, func in builtin_functions.items()
        if func.group == group and not all(o.is_differentiable for o in func.overloads or [func])
    )


def builtin_names() -> list[str]:
    """Every builtin key in Warp's registry (for coverage reports)."""
    from warp._src.context import builtin_functions

    return sorted(builtin_functions)


# --------------------------------------------------------------------------- structs


def is_struct(t: object) -> bool:
    """Whether `t` is a `@wp.struct` class (Warp's `Struct`, callable to make an instance)."""
    from warp._src.codegen import Struct

    return isinstance(t, Struct)


def struct_fields(struct: Any) -> dict[str, Any]:
    """A struct's fields in declaration order: name to Warp type (`wp.array` instances for arrays)."""
    return {name: var.type for name, var in struct.vars.items()}


def struct_name(struct: Any) -> str:
    """The name a struct class was declared under."""
    return struct.key


def value_layout(dtype: Any) -> tuple[Any, tuple[int, ...]]:
    """The scalar type and component shape of a Warp value type (`vec3f` -> (float32, (3,)))."""
    return getattr(dtype, "_wp_scalar_type_", dtype), tuple(getattr(dtype, "_shape_", ()))


def kernel_source(kernel: Any) -> str:
    """A kernel's Python source, as Warp captured it (kept after its module is released)."""
    return kernel.adj.source


# --------------------------------------------------------------------------- lowering


@dataclass(frozen=True)
class KernelCode:
    """What Warp generates for one kernel on one backend, and the options it was generated under."""

    forward: str  # the kernel's forward entry point(s)
    backward: str | None  # its adjoint entry point(s); None when Warp emits none
    helpers: str  # structs and @wp.func code (forward and adjoint) the kernel calls
    module_options: tuple[tuple[str, Any], ...] = ()  # CODEGEN_OPTIONS as the kernel's module resolved them
    kernel_options: tuple[tuple[str, Any], ...] = ()  # the kernel's own KERNEL_OPTIONS that are set
    link_symbols: tuple[str, ...] = ()  # device functions linked from MathDx LTO-IR (declared in helpers)


def source_file_name(module_name: str) -> str:
    """The stable file name Warp sees for a generated module (no machine path)."""
    return f"warp_synth/{module_name}.py"


class WarpModule:
    """A generated Python module, loaded into Warp from its source text.

    The source is registered in `linecache` under `source_file_name()`, so
    Warp's `// file.py:line` comments are the same on every machine, and the
    per-name counters Warp appends to `@wp.func` native names are reset for this
    module's functions, so a kernel lowers to the same text however many
    kernels this process lowered before.  Use it as a context manager:
    leaving releases everything Warp and Python hold for it.
    """

    def __init__(self, module_name: str, source: str):
        self.name = module_name
        self.source = source
        self.file_name = source_file_name(module_name)

    def __enter__(self) -> WarpModule:
        from warp._src import context

        linecache.cache[self.file_name] = (
            len(self.source),
            None,
            self.source.splitlines(True),
            self.file_name,
        )
        code = compile(self.source, self.file_name, "exec")
        self._function_keys = [c.co_name for c in code.co_consts if isinstance(c, types.CodeType)]
        for key in self._function_keys:
            context.function_key_counts.pop(key, None)
        py_module = types.ModuleType(self.name)
        py_module.__file__ = self.file_name
        sys.modules[self.name] = py_module
        try:
            exec(code, py_module.__dict__)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.py_module = py_module
        self.warp_module = context.get_module(self.name)
        return self

    def __exit__(self, *exc: object) -> None:
        from warp._src import context

        for module in self._own_modules():  # `@wp.kernel(module="unique")` makes a module of its own
            context.user_modules.pop(module.name, None)
        sys.modules.pop(self.name, None)
        linecache.cache.pop(self.file_name, None)
        context.user_modules.pop(self.name, None)
        for key in getattr(self, "_function_keys", ()):
            context.function_key_counts.pop(key, None)

    def modules(self) -> list[Any]:
        """Every Warp module this source's kernels live in: its own, then each `module="unique"` kernel's."""
        return [self.warp_module, *dict.fromkeys(self._own_modules())]

    def _own_modules(self) -> list[Any]:
        """Warp modules of this source's kernels other than its own (`module="unique"`)."""
        wp = warp()
        found = getattr(self, "py_module", None)
        values = vars(found).values() if found is not None else ()
        return [k.module for k in values if isinstance(k, wp.Kernel) and k.module is not self.warp_module]

    def _kernel(self, kernel_name: str) -> Any:
        """The `wp.Kernel` named `kernel_name` (its module may be one of its own)."""
        return getattr(self.py_module, kernel_name)

    def _options(self, device: str, module: Any = None) -> dict:
        wp = warp()
        options = (module or self.warp_module).resolve_options(wp.config)
        return options | {"output_arch": None if device == "cpu" else CUDA_ARCH}

    def codegen_options(self, kernel_name: str | None = None) -> dict[str, Any]:
        """The `CODEGEN_OPTIONS` of this module (or of `kernel_name`'s), as Warp resolves them."""
        module = self._kernel(kernel_name).module if kernel_name else None
        options = self._options("cpu", module)
        return {name: options[name] for name in CODEGEN_OPTIONS}

    def module_source(self, device: str) -> str:
        """The whole translation unit Warp would compile for `device` ("cpu" or "cuda")."""
        from warp._src.context import ModuleBuilder

        with _lto_ir_skipped():
            builder = ModuleBuilder(self.warp_module, self._options(device), target=device)
        return builder.codegen(device)

    def kernel_code(self, kernel_name: str, device: str) -> KernelCode:
        """Lower one kernel of this module for `device`, split into forward, backward and helpers.

        The kernel is emitted once, with a marker before the first backward
        template (`_backward_marked`), and split at the marker: exactly the
        forward-only emission and its backward continuation, at a third of
        the cost of emitting forward-only and forward+backward separately.
        Helpers come in the order Warp's `ModuleBuilder.codegen` emits them.
        """
        from warp._src import codegen
        from warp._src.context import ModuleBuilder

        kernel = self._kernel(kernel_name)
        options = self._options(device, kernel.module)
        with _builtin_overloads_memoized(), _lto_ir_skipped():
            builder = ModuleBuilder(kernel.module, options, target=device)
        with _backward_marked():
            kernel_forward, kernel_backward = _split(codegen.codegen_kernel(kernel, device, options))
            module_forward, module_backward = _split(codegen.codegen_module(kernel, device, options))
        helpers = _link_declarations(builder) if device != "cpu" else ""
        helpers += "".join(codegen.codegen_struct(s) for s in builder.structs)
        helpers += _helper_functions(builder, device)
        backward = kernel_backward + module_backward
        return KernelCode(
            forward=_stable_paths(kernel_forward + module_forward),
            backward=_stable_paths(backward) or None,
            helpers=_stable_paths(helpers),
            module_options=tuple((name, options[name]) for name in CODEGEN_OPTIONS),
            kernel_options=tuple((k, v) for k, v in sorted(kernel.options.items()) if k in KERNEL_OPTIONS),
            link_symbols=tuple(sorted(builder.ltoirs_decl)) if device != "cpu" else (),
        )


def _link_declarations(builder: Any) -> str:
    """Warp's `extern "C"` declarations of the MathDx device functions a CUDA module links
    (`tile_matmul`, `tile_cholesky`, `tile_fft` ...), as `ModuleBuilder.codegen` emits them."""
    if not builder.ltoirs_decl:
        return ""
    declarations = "".join(builder.ltoirs_decl[s] + "\n" for s in sorted(builder.ltoirs_decl))
    return 'extern "C" {\n' + declarations + "}\n"


#: Extra outputs of a MathDx build (`_build_lto_base`'s `extra_files`) that no generated code reads:
#: cuSolverDx's universal fatbin, linked like the LTO-IR.
_LINKED_ONLY_OUTPUTS = frozenset({"_fatbin.lto"})

#: cuFFTDx's shared memory size in bytes, which the code passes (a build's ".meta" output), of the FFTs
#: tile kernels here make: length 4, 8 or 16 on a block of 2 threads, float32 (precision 5) or float64
#: (6), as libmathdx reports it for sm_90 (Warp 1.19.0).  Only a build knows it: tests/test_lowering.py
#: checks each against one.  Any other FFT is built.
FFT_SHARED_MEMORY: dict[str, int] = {
    f"fft_{n}_{n // 2}_{CUDA_ARCH}_{direction}_{precision}": size
    for (n, precision), size in {
        (4, 5): 32,
        (4, 6): 32,
        (8, 5): 32,
        (8, 6): 64,
        (16, 5): 64,
        (16, 6): 256,
    }.items()
    for direction in ("forward", "inverse")
}


def _unbuilt_outputs(lto_symbol: str, extra_files: dict[str, Any]) -> tuple | None:
    """What `_build_lto_base` returns for `lto_symbol`, with empty LTO-IR and fatbins, without a build;
    None if an output the code reads is not known without one."""
    outputs: list[object] = []
    for ext in extra_files:
        if ext in _LINKED_ONLY_OUTPUTS:
            outputs.append(b"")
        elif ext == ".meta" and lto_symbol in FFT_SHARED_MEMORY:
            outputs.append(FFT_SHARED_MEMORY[lto_symbol])
        else:
            return None
    return (True, b"", *outputs)


@contextlib.contextmanager
def _lto_ir_skipped() -> Iterator[None]:
    """Let Warp's MathDx builders (`build_lto_dot`, `build_lto_solver`, `build_lto_fft`) declare
    their device functions without libmathdx building the LTO-IR, which records never hold.

    A libmathdx build takes up to minutes for each new shape and type (milliseconds once in Warp's
    LTO cache), past a worker's timeout.  The builders form the symbol from their parameters and
    the declaration from the symbol and the types, whatever the build; so the code is the same,
    and the builder holds empty LTO-IR.  An FFT's shared memory size is in the code: known ones
    come from `FFT_SHARED_MEMORY`, others are built.  The one difference: a configuration libmathdx
    rejects (Warp then raises, or retries a GEMM without its alignment) lowers here as accepted.
    Warp names such rejections for 16-bit GEMMs, which tiles here never have, and for a solver
    tile past the shared memory.
    """
    from warp._src import build

    real_build = build._build_lto_base

    def declared_only(
        lto_symbol: str, compile_func: Any, builder: Any, extra_files: dict | None = None
    ) -> tuple:
        outputs = _unbuilt_outputs(lto_symbol, extra_files or {})
        return outputs if outputs is not None else real_build(lto_symbol, compile_func, builder, extra_files)

    build._build_lto_base = declared_only
    try:
        yield
    finally:
        build._build_lto_base = real_build


def _helper_functions(builder: Any, device: str) -> str:
    """The `@wp.func` code of a module in `ModuleBuilder.codegen`'s three passes: forward functions,
    then adjoints (custom gradients first: the automatic adjoints call them), then forward functions
    calling `wp.grad` (they call adjoints)."""
    functions = list(builder.functions)
    plain = [f for f in functions if not f.adj.uses_grad_call]
    custom = {f.custom_grad_func for f in plain if f.custom_grad_func is not None}
    code = builder._codegen_functions(plain, device, forward_only=True)
    reverse = [f for f in plain if f in custom] + [f for f in plain if f not in custom]
    code += builder._codegen_functions(reverse, device, reverse_only=True)
    return code + builder._codegen_functions(
        [f for f in functions if f.adj.uses_grad_call], device, forward_only=True
    )


def _stable_paths(code: str) -> str:
    """Code with Warp's install directory spelled `warp`: builtins Warp defines in Python
    (`wp.norm_l2` ...) are emitted under a `// <path>/warp/_src/math.py` comment."""
    install_dir = os.path.dirname(warp().__file__)
    return code.replace(install_dir, "warp")


#: Put before Warp's backward templates while a kernel is emitted; no generated code contains a NUL.
_MARKER = "\0warp-synth:backward\0"


@contextlib.contextmanager
def _backward_marked() -> Iterator[None]:
    """Prefix Warp's backward templates with `_MARKER` (module globals, read at call time)."""
    from warp._src import codegen

    saved = {name: getattr(codegen, name) for name in _BACKWARD_TEMPLATES}
    try:
        for name, template in saved.items():
            setattr(codegen, name, _MARKER + template)
        yield
    finally:
        for name, template in saved.items():
            setattr(codegen, name, template)


#: Builtin overloads Warp resolved, by the identity of (builtin, argument types, outputs wanted).
_resolved: dict[tuple, tuple[tuple, object]] = {}
#: Past this many entries the memo starts afresh (array types are new objects per kernel).
_RESOLVED_MAX = 4096


@contextlib.contextmanager
def _builtin_overloads_memoized() -> Iterator[None]:
    """Memoize `Adjoint.resolve_func` for builtins while a kernel is built.

    Picking a builtin's overload is a pure function of the builtin and the
    argument types, yet Warp redoes it with `inspect.Signature.bind` for every
    call site: about a third of its codegen time.  Keys are object identities
    (the memo holds the objects, so an id is never reused while cached), so a
    hit returns exactly what Warp would; nothing else changes.
    """
    from warp._src import codegen

    resolve = codegen.Adjoint.resolve_func

    def memoized(adj, func, arg_types, kwarg_types, min_outputs):
        if not func.is_builtin():
            return resolve(adj, func, arg_types, kwarg_types, min_outputs)
        held = (func, *arg_types, *kwarg_types.values())
        key = (tuple(map(id, held)), tuple(kwarg_types), min_outputs)
        hit = _resolved.get(key)
        if hit is None:
            if len(_resolved) >= _RESOLVED_MAX:
                _resolved.clear()
            hit = _resolved[key] = (held, resolve(adj, func, arg_types, kwarg_types, min_outputs))
        return hit[1]

    codegen.Adjoint.resolve_func = memoized
    try:
        yield
    finally:
        codegen.Adjoint.resolve_func = resolve


def _split(marked: str) -> tuple[str, str]:
    """(forward, backward) of marked code; backward is "" when Warp emitted none."""
    forward, *rest = marked.split(_MARKER)
    if len(rest) > 1:
        raise WarpChanged("Warp emitted more than one backward part for a kernel")
    return forward, rest[0] if rest else ""


# --------------------------------------------------------------------------- compiling


def compile_source(source: str, device: str, work_dir: str, *, optimization_level: int = 0) -> None:
    """Compile a translation unit with Warp's own toolchain; raise on error.

    CPU uses Warp's bundled clang, CUDA uses NVRTC (no driver or GPU needed).
    """
    from warp._src import build

    name = "module"
    os.makedirs(work_dir, exist_ok=True)
    ext = "cpp" if device == "cpu" else "cu"
    src_path = os.path.join(work_dir, f"{name}.{ext}")
    with open(src_path, "w") as f:
        f.write(source)
    if device == "cpu":
        build.build_cpu(
            os.path.join(work_dir, f"{name}.o"),
            src_path,
            mode="release",
            optimization_level=optimization_level,
        )
    else:
        build.build_cuda(
            src_path,
            arch=CUDA_ARCH,
            output_path=os.path.join(work_dir, f"{name}.ptx"),
            pch_dir=None,
            use_precompiled_headers=False,
            config="release",
            optimization_level=optimization_level,
        )
