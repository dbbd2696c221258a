package glb

// mat4 is a 4x4 matrix in glTF's column-major order: element (row r,
// column c) is m[c*4+r].
type mat4 [16]float64

func identity() mat4 {
	return mat4{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}
}

// mul returns a*b.
func (a mat4) mul(b mat4) mat4 {
	var out mat4
	for c := range 4 {
		for r := range 4 {
			var s float64
			for k := range 4 {
				s += a[k*4+r] * b[c*4+k]
			}
			out[c*4+r] = s
		}
	}
	return out
}

// apply transforms the point v (w = 1). glTF node matrices are affine, so
// the bottom row is ignored.
func (a *mat4) apply(v [3]float64) [3]float64 {
	var out [3]float64
	for r := range 3 {
		out[r] = a[r]*v[0] + a[4+r]*v[1] + a[8+r]*v[2] + a[12+r]
	}
	return out
}

// localMatrix returns the node's matrix, or T*R*S from its translation,
// rotation (unit quaternion x, y, z, w) and scale.
func localMatrix(n *node) mat4 {
	if n.Matrix != nil {
		var m mat4
		copy(m[:], n.Matrix)
		return m
	}
	t := [3]float64{0, 0, 0}
	q := [4]float64{0, 0, 0, 1}
	s := [3]float64{1, 1, 1}
	copy(t[:], n.Translation)
	copy(q[:], n.Rotation)
	copy(s[:], n.Scale)
	x, y, z, w := q[0], q[1], q[2], q[3]
	// Rotation matrix columns, each scaled by the matching scale factor.
	return mat4{
		(1 - 2*(y*y+z*z)) * s[0], (2 * (x*y + z*w)) * s[0], (2 * (x*z - y*w)) * s[0], 0,
		(2 * (x*y - z*w)) * s[1], (1 - 2*(x*x+z*z)) * s[1], (2 * (y*z + x*w)) * s[1], 0,
		(2 * (x*z + y*w)) * s[2], (2 * (y*z - x*w)) * s[2], (1 - 2*(x*x+y*y)) * s[2], 0,
		t[0], t[1], t[2], 1,
	}
}
