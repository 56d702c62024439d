"""The face sketch the GUI tools draw (screenshots.py, gui_install.py): 3D strokes in the
XZ plane (front view), as lists of xyz, and the Grease Pencil object holding them (Blender 3.4's
GP API, the one Debian's blender has)."""
import math


def face_strokes():
    c = []
    c.append([(0.55 * math.sin(2 * math.pi * t / 64), 0, 0.72 * math.cos(2 * math.pi * t / 64) - 0.05) for t in range(65)])
    for side in (-1, 1):
        c.append([(side * 0.22 + 0.1 * math.cos(2 * math.pi * t / 24), 0, 0.12 + 0.045 * math.sin(2 * math.pi * t / 24))
                  for t in range(25)])
        c.append([(side * (0.12 + 0.22 * t / 10), 0, 0.26 + 0.04 * math.sin(math.pi * t / 10)) for t in range(11)])
        c.append([(side * 0.56, 0, 0.2 - 0.3 * t / 10) for t in range(11)])
    c.append([(0.0, 0, 0.05), (-0.06, 0, -0.18), (0.0, 0, -0.22), (0.06, 0, -0.18)])
    c.append([(-0.22 + 0.44 * t / 16, 0, -0.38 - 0.06 * math.sin(math.pi * t / 16)) for t in range(17)])
    c.append([(-0.6 + 1.2 * t / 30, 0, 0.5 + 0.25 * math.sin(math.pi * t / 30)) for t in range(31)])
    return c


def add_sketch_object(bpy, name="Face sketch"):
    """A Grease Pencil object with face_strokes(), black ink, made the active object."""
    data = bpy.data.grease_pencils.new(name)
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    mat = bpy.data.materials.new("Ink")
    bpy.data.materials.create_gpencil_data(mat)
    mat.grease_pencil.color = (0.02, 0.02, 0.02, 1.0)
    data.materials.append(mat)
    frame = data.layers.new("Lines").frames.new(1)
    for pts in face_strokes():
        stroke = frame.strokes.new()
        stroke.display_mode = "3DSPACE"
        stroke.line_width = 40
        stroke.points.add(len(pts))
        for p, co in zip(stroke.points, pts):
            p.co = co
            p.pressure = 1.0
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj
    return obj


def view3d_area(bpy):
    """(window, 3D view area, its main region) of the first window."""
    win = bpy.context.window_manager.windows[0]
    area = next(a for a in win.screen.areas if a.type == "VIEW_3D")
    return win, area, next(r for r in area.regions if r.type == "WINDOW")
