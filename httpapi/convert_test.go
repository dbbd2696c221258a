package httpapi_test

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/partflow/partflow/convert"
	"github.com/partflow/partflow/convert/glb"
	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/internal/fixtures"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/plugins/stl/stlconv"
)

// newConvertEnv is a files env that accepts STL and converts it in-process
// with the real STL converter, with conversion workers running.
func newConvertEnv(t *testing.T) *filesEnv {
	t.Helper()
	reg := convert.NewRegistry()
	if err := reg.Register(context.Background(), stlconv.New()); err != nil {
		t.Fatal(err)
	}
	e := newFilesEnv(t, func(po *parts.Options, ho *httpapi.Options) {
		po.Uploads.Extensions = []string{"step", "stp", "pdf", "stl"}
		po.Convert = parts.ConvertOptions{Converters: reg, WorkDir: t.TempDir()}
		ho.Convert = httpapi.ConvertOptions{UploadWait: 20 * time.Second, ModelWait: 20 * time.Second}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.svc.RunConversions(ctx, 1) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// emptySTL is a binary STL with no triangles: it passes the upload's
// content check and the converter rejects it.
func emptySTL() []byte {
	b := make([]byte, 84)
	copy(b, "binary STL with nothing in it")
	binary.LittleEndian.PutUint32(b[80:], 0)
	return b
}

func TestModelOfUploadedSTLIsServedAsGLB(t *testing.T) {
	e := newConvertEnv(t)
	data := fixtures.Bytes(fixtures.TwoCubesSTLFile)
	p := e.part(nil)
	up := e.upload(p, "two_cubes_ascii.stl", data)
	conv, _ := up.json(t)["conversion"].(map[string]any)
	if up.status != 201 || conv["success"] != true || conv["status"] != "ready" || conv["gltf_path"] != "two_cubes_ascii.glb" {
		t.Fatalf("upload: %d %s", up.status, up.body)
	}
	r := e.do("GET", p+"/model", nil, nil)
	if r.status != 200 || r.header.Get("Content-Type") != "model/gltf-binary" {
		t.Fatalf("GET model: %d %s %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	sum, err := glb.InspectBytes(r.body)
	if err != nil || sum.Triangles != 24 {
		t.Fatalf("model: %+v, %v (want 24 triangles of two cubes)", sum, err)
	}
	if named := e.do("GET", p+"/download/two_cubes_ascii.glb", nil, nil); named.status != 200 || len(named.body) != len(r.body) {
		t.Fatalf("download/{gltf_path}: %d", named.status)
	}
	again := e.do("POST", p+"/convert", nil, nil)
	if m := again.json(t); again.status != 200 || m["success"] != true || m["gltf_path"] != "two_cubes_ascii.glb" {
		t.Fatalf("POST convert: %d %s", again.status, again.body)
	}
}

func TestModelOfRejectedFileIs422WithTheReason(t *testing.T) {
	e := newConvertEnv(t)
	p := e.part(nil)
	up := e.upload(p, "empty.stl", emptySTL())
	conv, _ := up.json(t)["conversion"].(map[string]any)
	if conv["success"] != false || conv["status"] != "failed" || !strings.Contains(conv["error"].(string), "could not be read") {
		t.Fatalf("upload conversion = %v", conv)
	}
	r := e.do("GET", p+"/model", nil, nil)
	m := r.json(t)
	if r.status != 422 || !strings.Contains(string(r.body), "could not be read") {
		t.Fatalf("GET model: %d %v", r.status, m)
	}
	c := e.do("POST", p+"/convert", nil, nil)
	if cm := c.json(t); c.status != 422 || cm["success"] != false || !strings.Contains(cm["error"].(string), "could not be read") {
		t.Fatalf("POST convert: %d %s", c.status, c.body)
	}
}

func TestModelWithoutConverterIs503AndSaysHowToEnable(t *testing.T) {
	e := newFilesEnv(t, nil)
	p := e.part(nil)
	e.upload(p, "a.step", stepData)
	r := e.do("GET", p+"/model", nil, nil)
	if r.status != 503 || !strings.Contains(string(r.body), "no converter is configured") {
		t.Fatalf("GET model: %d %s", r.status, r.body)
	}
	c := e.do("POST", p+"/convert", nil, nil)
	if cm := c.json(t); c.status != 503 || cm["success"] != false {
		t.Fatalf("POST convert: %d %s", c.status, c.body)
	}
}

func TestModelOfPartWithoutFileIs404(t *testing.T) {
	e := newConvertEnv(t)
	p := e.part(nil)
	for _, r := range []resp{e.do("GET", p+"/model", nil, nil), e.do("POST", p+"/convert", nil, nil),
		e.do("GET", "/api/parts/999/model", nil, nil)} {
		if r.status != 404 {
			t.Fatalf("status %d, want 404: %s", r.status, r.body)
		}
	}
}
