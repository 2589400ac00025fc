#!/usr/bin/env python3
"""Converts Natural Earth's 1:110m admin-0 countries, as TopoJSON in the npm package
world-atlas 2.0.2 (`countries-110m.json`, Natural Earth 4.1.0), into countries-110m.txt: one
country per line, `name<TAB>ring|ring|...`, each ring `lon,lat lon,lat ...` in degrees with two
decimals. The server draws the map's land and borders from that file (src/web/svg.rs).

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python3 data/natural-earth/convert.py package/countries-110m.json > data/natural-earth/countries-110m.txt
"""

import json
import sys


def decode_arcs(topology):
    """TopoJSON arcs: quantized, delta-encoded positions, back to longitude and latitude."""
    scale = topology["transform"]["scale"]
    translate = topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x += dx
            y += dy
            points.append((x * scale[0] + translate[0], y * scale[1] + translate[1]))
        arcs.append(points)
    return arcs


def ring(arcs, indices):
    """A ring from its arcs; a negative index is the arc reversed (`~i`)."""
    points = []
    for i in indices:
        arc = arcs[i] if i >= 0 else list(reversed(arcs[~i]))
        # Consecutive arcs share their joining point.
        points.extend(arc if not points else arc[1:])
    return points


def main(path):
    topology = json.load(open(path, encoding="utf-8"))
    arcs = decode_arcs(topology)
    for geometry in topology["objects"]["countries"]["geometries"]:
        name = geometry.get("properties", {}).get("name", "")
        if geometry["type"] == "Polygon":
            polygons = [geometry["arcs"]]
        elif geometry["type"] == "MultiPolygon":
            polygons = geometry["arcs"]
        else:
            continue
        rings = []
        for polygon in polygons:
            for indices in polygon:
                points = ring(arcs, indices)
                rings.append(" ".join(f"{lon:.2f},{lat:.2f}" for lon, lat in points))
        print(f"{name}\t{'|'.join(rings)}")


if __name__ == "__main__":
    main(sys.argv[1])
