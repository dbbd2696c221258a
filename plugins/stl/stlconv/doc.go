// Package stlconv converts STL files (binary or ASCII) to GLB.
//
// [New] returns a convert.Converter that runs in process; plugins/stl wraps
// the same converter as a go-plugin program. [Parse] is the STL reader on
// its own.
//
// Binary or ASCII is decided by size, not by the first bytes: a file is
// binary when its length is exactly 84 + 50*n, where n is the triangle count
// stored at offset 80. Many binary files start their 80-byte header with
// "solid", so the ASCII keyword proves nothing.
//
// Units: STL has none. The coordinates are copied unchanged into the GLB
// (whose nominal unit is the metre), so an STL exported in millimetres
// yields a GLB 1000 times too large if read as metres. Callers that know the
// unit can scale in the viewer.
//
// Each ASCII "solid" block becomes one GLB mesh (named after the solid); a
// binary file becomes one mesh. Every triangle keeps its own three vertices
// with a flat normal computed from its winding (falling back to the stored
// facet normal for degenerate triangles), and all meshes share one
// light-grey, double-sided material. Tessellation options do not apply and
// are ignored.
package stlconv
