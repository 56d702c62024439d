"""The face sketch the GUI tools draw (screenshots.py, gui_install.py): 3D strokes in the
XZ plane (front view), as lists of xyz."""
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
