"""Custom gradients: a `@wp.func` with a `@wp.func_grad` adjoint (and maybe a `@wp.func_replay`).

    custom := @wp.func f(params) -> T: return E
              @wp.func_grad(f) adj_f(params, adj_ret: T): wp.adjoint[p] += adj_ret * dE/dp  (each p)
              [@wp.func_replay(f) replay_f(params): return E]

E is drawn from a small algebra whose derivatives are known (`+ - *`, squares,
scales, and with the math switch `sin`, `cos`, `tanh`, `sqrt(a * a + 1)`), every
parameter in it, and the adjoint is E's exact derivative: so the fuzzer's
gradient check compares Warp's handling of a custom adjoint (through kernels and
through helpers calling `f`) with finite differences.  `f` is a helper like any
other: pending until something calls it, a kernel or a later helper (nested:
kernel -> helper -> `f`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from grammar.astnodes import annotation, arguments, binop, call, load, number, wp_attr
from grammar.choices import choice
from grammar.context import Gen, Helper
from grammar.names import HELPER_NAMES, VAR_NAMES
from grammar.types import WType


@dataclass(frozen=True)
class Sym:
    """A term of E: `var`, `const`, `add`, `sub`, `mul`, `neg` or a function `fn` of one term."""

    op: str
    args: tuple[Sym, ...] = ()
    name: str = ""  # a variable's or function's name
    value: float = 0.0  # a constant's value


ZERO, ONE = Sym("const", value=0.0), Sym("const", value=1.0)


def const(v: float) -> Sym:
    return Sym("const", value=v)


def add(a: Sym, b: Sym) -> Sym:
    if a == ZERO:
        return b
    return a if b == ZERO else Sym("add", (a, b))


def sub(a: Sym, b: Sym) -> Sym:
    if b == ZERO:
        return a
    return neg(b) if a == ZERO else Sym("sub", (a, b))


def mul(a: Sym, b: Sym) -> Sym:
    if ZERO in (a, b):
        return ZERO
    if a == ONE:
        return b
    return a if b == ONE else Sym("mul", (a, b))


def neg(a: Sym) -> Sym:
    return ZERO if a == ZERO else Sym("neg", (a,))


def fn(name: str, a: Sym) -> Sym:
    return Sym("fn", (a,), name=name)


def derivative(e: Sym, x: str) -> Sym:
    """dE/dx, by the rules of the algebra."""
    if e.op == "var":
        return ONE if e.name == x else ZERO
    if e.op == "const":
        return ZERO
    d = [derivative(a, x) for a in e.args]
    if e.op == "add":
        return add(d[0], d[1])
    if e.op == "sub":
        return sub(d[0], d[1])
    if e.op == "neg":
        return neg(d[0])
    if e.op == "mul":
        a, b = e.args
        return add(mul(d[0], b), mul(a, d[1]))
    (a,) = e.args
    outer = {
        "sin": lambda: fn("cos", a),
        "cos": lambda: neg(fn("sin", a)),
        "tanh": lambda: sub(ONE, mul(e, e)),
        "sqrt1": lambda: Sym("div", (a, e)),  # d sqrt(a^2 + 1) = a / sqrt(a^2 + 1)
    }[e.name]()
    return mul(outer, d[0]) if d[0] != ZERO else ZERO


def spell(e: Sym, ty: WType) -> ast.expr:
    """E as source: `wp.sin(x) * y + 2.0 * x` ...  (`sqrt1` is `wp.sqrt(a * a + 1.0)`: no guard needed)."""
    if e.op == "var":
        return load(e.name)
    if e.op == "const":
        return number(ty, e.value)
    parts = [spell(a, ty) for a in e.args]
    if e.op in ("add", "sub", "mul", "div"):
        op = {"add": ast.Add, "sub": ast.Sub, "mul": ast.Mult, "div": ast.Div}[e.op]()
        return binop(parts[0], op, parts[1])
    if e.op == "neg":
        return ast.UnaryOp(op=ast.USub(), operand=parts[0])
    if e.name == "sqrt1":
        return call("wp.sqrt", binop(binop(parts[0], ast.Mult(), parts[0]), ast.Add(), number(ty, 1.0)))
    return call(f"wp.{e.name}", parts[0])


#: Functions of one term E may apply (with the math switch), and the scales it uses.
FUNCTIONS = ("sin", "cos", "tanh", "sqrt1")
SCALES = (0.5, 2.0, 3.0, -1.5, 0.25)


def term(g: Gen, x: str, alone: bool = False) -> Sym:
    """A term of one parameter: itself (unless `alone`: E would be the identity), a scale of it,
    its square, or a function of it."""
    kinds = ["var"] * (not alone) + ["scale", "square"] + (["fn"] * 2 if g.policy.on("math") else [])
    kind = choice(g.ch, kinds)
    v = Sym("var", name=x)
    if kind == "scale":
        return mul(const(choice(g.ch, SCALES)), v)
    if kind == "square":
        return mul(v, v)
    return fn(choice(g.ch, FUNCTIONS), v) if kind == "fn" else v


def expression(g: Gen, params: list[str]) -> Sym:
    """E: the parameters' terms joined by `+`, `-` or `*` (every parameter in it), maybe wrapped."""
    e = term(g, params[0], alone=len(params) == 1)
    for x in params[1:]:
        e = choice(g.ch, (add, sub, mul))(e, term(g, x))
    if g.policy.on("math") and g.ch.boolean(0.3):
        e = fn(choice(g.ch, FUNCTIONS), e)
    return e


def custom_gradient(g: Gen) -> list[ast.stmt]:
    """`f`, its `@wp.func_grad` adjoint and maybe a `@wp.func_replay`; `f` becomes a helper."""
    ty = choice(g.ch, [t for t in g.storable if t.kind == "float" and t.scalar != "float16"])
    name = g.names.fresh(HELPER_NAMES)
    params = [g.names.fresh(VAR_NAMES["float"]) for _ in range(g.ch.integer(1, 3))]
    e = expression(g, params)
    signature = arguments([(p, ty.annotation) for p in params])
    forward = _function(name, signature, [ast.Return(value=spell(e, ty))], wp_attr("func"), ty)
    adj_ret = g.names.fresh(("adj_ret", "adj"))
    updates: list[ast.stmt] = [
        ast.AugAssign(
            target=ast.Subscript(value=wp_attr("adjoint"), slice=load(p), ctx=ast.Store()),
            op=ast.Add(),
            value=binop(load(adj_ret), ast.Mult(), spell(derivative(e, p), ty)),
        )
        for p in params
    ]
    grad_signature = arguments([*((p, ty.annotation) for p in params), (adj_ret, ty.annotation)])
    decorated = call("wp.func_grad", load(name))
    made = [forward, _function(g.names.fresh((f"adj_{name}",)), grad_signature, updates, decorated, None)]
    if g.ch.boolean(0.5):  # replayed in the backward pass instead of `f`: the same value
        replay = call("wp.func_replay", load(name))
        made.append(
            _function(
                g.names.fresh((f"replay_{name}",)), signature, [ast.Return(value=spell(e, ty))], replay, None
            )
        )
    helper = Helper(f"helper {len(g.helpers)}", name, (ty,) * len(params), (ty,), 0)
    g.helpers.append(helper)
    g.uncalled[helper.key] = None
    return made


def _function(
    name: str, signature: ast.arguments, body: list[ast.stmt], decorator: ast.expr, returns: WType | None
) -> ast.FunctionDef:
    return ast.FunctionDef(
        name=name,
        args=signature,
        body=body,
        decorator_list=[decorator],
        returns=annotation(returns.annotation) if returns else None,
        type_params=[],
    )
