// Package glb writes and inspects glTF 2.0 binary files (GLB).
//
// [Encode] and [Write] turn a [Model] (triangle meshes with positions,
// optional normals and indices, and flat-coloured materials) into a GLB: a
// 12-byte header, a JSON chunk and a BIN chunk, each padded to 4 bytes.
//
// [Inspect] and [InspectBytes] validate a GLB (header, chunk layout, JSON
// document, every accessor and buffer view inside the BIN chunk, index
// values inside their vertex range, a well-formed node tree) and return a
// [Summary]: mesh, primitive, triangle and material counts and the
// world-space bounding box computed from the actual POSITION data with every
// node's transform (matrix or translation/rotation/scale) applied through the
// scene hierarchy. Converter tests use it to check what they wrote.
//
// Inspect supports what Partflow's converters produce: self-contained files
// (no external or data: URIs), FLOAT positions, no sparse accessors and no
// required extensions. Anything else is reported as an error wrapping
// [ErrInvalid] or [ErrUnsupported].
//
// This package imports only the standard library.
package glb
