"""A stand-in for bpy.types.UILayout that records what a panel's draw() asks for, so that panel
code can be tested in background mode (where no region ever draws)."""
from __future__ import annotations

from types import SimpleNamespace


class FakeLayout:
    def __init__(self, parent: "FakeLayout | None" = None, **kwargs) -> None:
        self.parent = parent
        self.kwargs = kwargs
        self.children: list = []  # FakeLayout or (call, args, kwargs, result)
        self.enabled = True
        self.active = True

    # containers
    def _child(self, **kwargs) -> "FakeLayout":
        child = FakeLayout(self, **kwargs)
        self.children.append(child)
        return child

    def row(self, **kwargs):
        return self._child(**kwargs)

    def column(self, **kwargs):
        return self._child(**kwargs)

    def box(self, **kwargs):
        return self._child(**kwargs)

    def split(self, **kwargs):
        return self._child(**kwargs)

    # widgets
    def _widget(self, call, *args, **kwargs):
        result = SimpleNamespace()
        self.children.append((call, args, kwargs, result))
        return result

    def __getattr__(self, call):  # label, prop, prop_enum, operator, template_icon, progress, ...
        if call.startswith("__"):
            raise AttributeError(call)
        return lambda *args, **kwargs: self._widget(call, *args, **kwargs)

    # queries
    @property
    def is_enabled(self) -> bool:
        node = self
        while node is not None:
            if not node.enabled:
                return False
            node = node.parent
        return True

    def widgets(self, call=None):
        """[(call, args, kwargs, result, enabled)] of this layout and everything below it."""
        out = []
        for c in self.children:
            if isinstance(c, FakeLayout):
                out += c.widgets(call)
            elif call is None or c[0] == call:
                out.append((*c, self.is_enabled))
        return out


def draw_panel(panel_cls, context) -> FakeLayout:
    layout = FakeLayout()
    panel_cls.draw(SimpleNamespace(layout=layout), context)
    return layout
