package httpapi

import (
	"fmt"
	"mime"
	"net/http"
	"os"
	"path"
	"strings"
)

// staticFiles serves a built single-page client. Files are opened through
// an os.Root, so no request path (.., encoded separators, symlinks) can
// reach outside the directory. The root stays open for the life of the
// handler.
type staticFiles struct {
	root *os.Root
}

func openStatic(dir string) (*staticFiles, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("httpapi: static directory: %w", err)
	}
	return &staticFiles{root: root}, nil
}

// contentTypes are the types of the files a Vite/Three.js build holds, set
// explicitly so they do not depend on the host's mime.types.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".json":        "application/json",
	".map":         "application/json",
	".webmanifest": "application/manifest+json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".jpg":         "image/jpeg",
	".jpeg":        "image/jpeg",
	".gif":         "image/gif",
	".webp":        "image/webp",
	".avif":        "image/avif",
	".ico":         "image/x-icon",
	".glb":         "model/gltf-binary",
	".gltf":        "model/gltf+json",
	".wasm":        "application/wasm",
	".woff":        "font/woff",
	".woff2":       "font/woff2",
	".ttf":         "font/ttf",
	".txt":         "text/plain; charset=utf-8",
	".xml":         "application/xml",
	".pdf":         "application/pdf",
}

func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if ct, ok := contentTypes[ext]; ok {
		return ct
	}
	if ct := mime.TypeByExtension(ext); ct != "" {
		return ct
	}
	return "application/octet-stream"
}

// encodings are the precompressed siblings tried, best first.
var encodings = []struct{ token, suffix string }{{"br", ".br"}, {"gzip", ".gz"}}

// serveStatic serves rest (the path below the base path) from the static
// directory: the file if it exists, else index.html.
func (h *handler) serveStatic(w http.ResponseWriter, r *http.Request, rest string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.writeError(w, r, &statusError{status: http.StatusMethodNotAllowed, message: "Method not allowed",
			allow: []string{http.MethodGet, http.MethodHead}})
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+rest), "/")
	if name != "" && name != "index.html" && !hiddenPath(name) && h.serveFile(w, r, name) {
		return
	}
	if !h.serveFile(w, r, "index.html") {
		h.writeError(w, r, errRouteNotFound)
	}
}

// hiddenPath reports a path with a segment starting with "." (.git, .env):
// never served.
func hiddenPath(name string) bool {
	for seg := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}

// serveFile serves name if it is a regular file, preferring a precompressed
// sibling the client accepts. It reports false (having written nothing) when
// there is no such file.
func (h *handler) serveFile(w http.ResponseWriter, r *http.Request, name string) bool {
	f, err := h.static.root.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		return false
	}
	hdr := w.Header()
	hdr.Set("Content-Type", contentType(name))
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", cacheControl(name))
	hdr.Add("Vary", "Accept-Encoding")
	body, bodyInfo := f, info
	for _, enc := range encodings {
		if !accepts(r, enc.token) {
			continue
		}
		cf, err := h.static.root.Open(name + enc.suffix)
		if err != nil {
			continue
		}
		ci, err := cf.Stat()
		if err != nil || !ci.Mode().IsRegular() {
			cf.Close()
			continue
		}
		defer cf.Close()
		body, bodyInfo = cf, ci
		hdr.Set("Content-Encoding", enc.token)
		break
	}
	http.ServeContent(w, r, name, bodyInfo.ModTime(), body)
	return true
}

// cacheControl: content-hashed build assets are immutable; everything else
// (index.html above all) is revalidated on every use.
func cacheControl(name string) string {
	if hashedAsset(path.Base(name)) {
		return "public, max-age=31536000, immutable"
	}
	return "no-cache"
}

// hashedAsset reports a content-hashed build name: Vite's
// "index-BX3k2a9Q.js" (8 base64url characters, which may include "-"), or a
// longer token after the last "-" or "." ("app.4f3a9c1d2e.css"). The token
// must hold a digit or an upper-case letter, so "-polyfill" is not a hash.
func hashedAsset(base string) bool {
	stem := strings.TrimSuffix(base, path.Ext(base))
	if n := len(stem); n > 8 && (stem[n-9] == '-' || stem[n-9] == '.') && hashToken(stem[n-8:]) {
		return true
	}
	i := strings.LastIndexAny(stem, "-.")
	return i >= 0 && len(stem)-i-1 >= 8 && hashToken(stem[i+1:])
}

func hashToken(tok string) bool {
	mixed := false
	for _, c := range tok {
		switch {
		case c >= '0' && c <= '9', c >= 'A' && c <= 'Z':
			mixed = true
		case c >= 'a' && c <= 'z', c == '_', c == '-':
		default:
			return false
		}
	}
	return mixed
}
