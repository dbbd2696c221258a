package glb

import "errors"

// Errors returned (wrapped) by Inspect, InspectBytes, Encode and Write.
var (
	// ErrInvalid means the data is not a valid GLB (or the Model cannot be
	// encoded as one): bad header, inconsistent chunk lengths, malformed
	// JSON, out-of-range indices, accessors outside the BIN chunk, ...
	ErrInvalid = errors.New("glb: invalid")
	// ErrUnsupported means the file may be valid glTF but uses something
	// this package does not read (external buffers, sparse accessors,
	// quantized positions, required extensions).
	ErrUnsupported = errors.New("glb: unsupported")
)

// Binary layout constants (glTF 2.0 specification, section "GLB File Format").
const (
	magic         = 0x46546C67 // "glTF"
	version       = 2
	chunkJSON     = 0x4E4F534A // "JSON"
	chunkBIN      = 0x004E4942 // "BIN\x00"
	headerSize    = 12
	chunkHeadSize = 8
)

// glTF constants used by the writer and the inspector.
const (
	compByte          = 5120
	compUnsignedByte  = 5121
	compShort         = 5122
	compUnsignedShort = 5123
	compUnsignedInt   = 5125
	compFloat         = 5126

	targetArrayBuffer        = 34962
	targetElementArrayBuffer = 34963

	modeTriangles     = 4
	modeTriangleStrip = 5
	modeTriangleFan   = 6
)

var componentSizes = map[int]int{
	compByte: 1, compUnsignedByte: 1, compShort: 2, compUnsignedShort: 2, compUnsignedInt: 4, compFloat: 4,
}

var typeComponents = map[string]int{
	"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16,
}

// The JSON document. Optional indices are pointers so that "absent" and 0
// differ; the same types serve the writer and the inspector.
type document struct {
	Asset              asset        `json:"asset"`
	ExtensionsUsed     []string     `json:"extensionsUsed,omitempty"`
	ExtensionsRequired []string     `json:"extensionsRequired,omitempty"`
	Scene              *int         `json:"scene,omitempty"`
	Scenes             []scene      `json:"scenes,omitempty"`
	Nodes              []node       `json:"nodes,omitempty"`
	Meshes             []mesh       `json:"meshes,omitempty"`
	Materials          []material   `json:"materials,omitempty"`
	Accessors          []accessor   `json:"accessors,omitempty"`
	BufferViews        []bufferView `json:"bufferViews,omitempty"`
	Buffers            []buffer     `json:"buffers,omitempty"`
}

type asset struct {
	Version    string `json:"version"`
	MinVersion string `json:"minVersion,omitempty"`
	Generator  string `json:"generator,omitempty"`
}

type scene struct {
	Name  string `json:"name,omitempty"`
	Nodes []int  `json:"nodes,omitempty"`
}

type node struct {
	Name        string    `json:"name,omitempty"`
	Mesh        *int      `json:"mesh,omitempty"`
	Children    []int     `json:"children,omitempty"`
	Matrix      []float64 `json:"matrix,omitempty"`
	Translation []float64 `json:"translation,omitempty"`
	Rotation    []float64 `json:"rotation,omitempty"`
	Scale       []float64 `json:"scale,omitempty"`
}

type mesh struct {
	Name       string      `json:"name,omitempty"`
	Primitives []primitive `json:"primitives"`
}

type primitive struct {
	Attributes map[string]int `json:"attributes"`
	Indices    *int           `json:"indices,omitempty"`
	Material   *int           `json:"material,omitempty"`
	Mode       *int           `json:"mode,omitempty"`
}

type material struct {
	Name        string `json:"name,omitempty"`
	PBR         *pbr   `json:"pbrMetallicRoughness,omitempty"`
	DoubleSided bool   `json:"doubleSided,omitempty"`
}

type pbr struct {
	BaseColorFactor []float64 `json:"baseColorFactor,omitempty"`
	MetallicFactor  *float64  `json:"metallicFactor,omitempty"`
	RoughnessFactor *float64  `json:"roughnessFactor,omitempty"`
}

type accessor struct {
	BufferView    *int      `json:"bufferView,omitempty"`
	ByteOffset    int       `json:"byteOffset,omitempty"`
	ComponentType int       `json:"componentType"`
	Normalized    bool      `json:"normalized,omitempty"`
	Count         int       `json:"count"`
	Type          string    `json:"type"`
	Min           []float64 `json:"min,omitempty"`
	Max           []float64 `json:"max,omitempty"`
	Sparse        any       `json:"sparse,omitempty"`
}

type bufferView struct {
	Buffer     int `json:"buffer"`
	ByteOffset int `json:"byteOffset,omitempty"`
	ByteLength int `json:"byteLength"`
	ByteStride int `json:"byteStride,omitempty"`
	Target     int `json:"target,omitempty"`
}

type buffer struct {
	ByteLength int    `json:"byteLength"`
	URI        string `json:"uri,omitempty"`
}
