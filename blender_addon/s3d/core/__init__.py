"""The add-on's bpy-free core, as in Blender's glTF add-on: the worker client and its link,
the generate session, the one request builder, stroke projection maths, the PLY reader,
engine detection and the batch plan. Nothing here imports bpy, so all of it is tested in
plain Python; the bpy glue (operators, panel, import, capture, view) sits beside this folder."""
