"""Module paths in generated PyTorch code: how a class registers a module at a dotted path
(`as "layer{s + 1}.*"`) and the Python expression that reaches it again."""

from __future__ import annotations


class ModuleTree:
    """The modules of one class as its `__init__` registers them, by path: the containers a
    dotted path (`layer1.0`, from `as "layer{s + 1}.*"`) goes through are `nn.Sequential`s
    made on first use, so that the state_dict keys are the paths.  Gives the Python
    expression that reaches each path: `self.layer1[0]` where the index is the position,
    `getattr(…, "block1-0")` where the key is no identifier."""

    def __init__(self, sequential: bool = False) -> None:
        self.children: dict[str, list[str]] = {"": []}  # container path -> keys, in order
        self.sequential = sequential  # the class itself is an nn.Sequential: `self[0]`

    def register(self, path: str, ctor: str) -> list[str]:
        """The lines that register `ctor` at `path`, with the containers not made yet."""
        parts = path.split(".")
        lines = []
        for k, key in enumerate(parts):
            parent, here = ".".join(parts[:k]), ".".join(parts[: k + 1])
            last = k == len(parts) - 1
            if not last and here in self.children:
                continue
            value = ctor if last else "nn.Sequential()"
            if not parent and key.isidentifier():
                lines.append(f"self.{key} = {value}")
            elif not parent and self.sequential and key == str(len(self.children[parent])):
                lines.append(f"self.append({value})")
            elif not parent:
                lines.append(f'self.add_module("{key}", {value})')
            elif key == str(len(self.children[parent])):
                lines.append(f"{self.ref(parent)}.append({value})")
            else:
                lines.append(f'{self.ref(parent)}.add_module("{key}", {value})')
            self.children[parent].append(key)
            if not last:
                self.children[here] = []
        return lines

    def ref(self, path: str) -> str:
        """The expression that reaches the module at `path` from `self`."""
        expr, parent = "self", ""
        for key in path.split("."):
            expr = self._step(expr, parent, key)
            parent = f"{parent}.{key}" if parent else key
        return expr

    def target(self, path: str) -> str | None:
        """`ref(path)` where Python can assign to it, else None."""
        parent, key = path.rpartition(".")[::2]
        if key.isidentifier() or self._step("", parent, key).startswith("["):
            return self.ref(path)
        return None

    def parent(self, path: str) -> tuple[str, str]:
        """(the expression of the module holding `path`, its key there)."""
        parent, _, key = path.rpartition(".")
        return (self.ref(parent) if parent else "self"), key

    def _step(self, expr: str, parent: str, key: str) -> str:
        if key.isidentifier():
            return f"{expr}.{key}"
        indexable = parent or self.sequential
        if indexable and key.isdigit() and self.children[parent].index(key) == int(key):
            return f"{expr}[{key}]"
        return f'getattr({expr}, "{key}")'
