package httpapi

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bunrouter"

	"github.com/partflow/partflow/parts"
)

// FileOptions configure the file routes. Zero fields get the defaults.
type FileOptions struct {
	// MultipartSlack is how many bytes an upload request body may exceed the
	// service's file size limit by (multipart framing and small fields)
	// before the request itself is cut off with 413. Default 1 MiB. The file
	// limit itself is enforced by the Service while streaming.
	MultipartSlack int64
	// MinUploadRate is the slowest an upload body may arrive, in bytes per
	// second averaged over UploadRateWindow; a slower one is cut off with
	// 408 and nothing stored. Default DefaultMinUploadRate (256 B/s);
	// negative disables the check.
	MinUploadRate int64
	// UploadRateWindow is the period MinUploadRate is measured over, and
	// so the longest a client may send nothing. Default one minute.
	UploadRateWindow time.Duration
	// MaxUploadsPerClient caps the uploads one client address may have in
	// progress; more get 429 with Retry-After. Default
	// DefaultMaxUploadsPerClient (8); negative disables the cap.
	MaxUploadsPerClient int
}

// DefaultMultipartSlack is the default of FileOptions.MultipartSlack.
const DefaultMultipartSlack = 1 << 20

// registerFileRoutes adds the file routes: upload, downloads, views and
// drawings, and (convert.go) the model routes.
func (h *handler) registerFileRoutes(rt *routeTable) {
	id := "/api/parts/:id"
	fileHeaders := map[string]string{
		"ETag":                "The file's SHA-256 in quotes; If-None-Match answers 304",
		"Content-Disposition": "attachment or inline, with the original name (filename, and filename* per RFC 5987 for non-ASCII names)",
		"Accept-Ranges":       "bytes: Range requests answer 206",
	}
	download := func(desc string) map[int]response {
		return map[int]response{
			200: {Description: desc, ContentType: "application/octet-stream", Schema: binary(), Headers: fileHeaders},
			206: {Description: "The requested byte range", ContentType: "application/octet-stream", Schema: binary()},
			304: {Description: "Not modified (If-None-Match matched the ETag)"},
			404: {Description: "No such part, or the part holds no such file", Schema: ref("Error")},
		}
	}
	uploadResult := obj(props{
		"message":  str(),
		"filename": str(),
		"file_path": schema{"type": "string", "description": "The URL path the file downloads from " +
			"(GET .../download/{filename}); never a server path"},
		"path": schema{"type": "string", "description": "The same as file_path, under the original " +
			"specification's name"},
		"file":       obj(props{"name": str(), "kind": str(), "size": integer(), "sha256": str(), "contentType": str(), "uploadedAt": str()}),
		"conversion": orNull(obj(props{"success": boolean(), "error": orNull(str()), "gltf_path": orNull(str())})),
	})
	rt.add(route{Method: http.MethodPost, Path: id + "/upload", Access: accessWrite, Handler: h.upload, Doc: op{
		Summary: "Upload the part's CAD file or drawing",
		Description: "multipart/form-data with the file in field `file`, streamed to the file store (never " +
			"buffered). The extension must be allowed (default step, stp, pdf; stl when configured) and the " +
			"content must match it (STEP starts with ISO-10303-21;, PDF with %PDF-, STL binary by size or " +
			"ASCII solid/facet). A STEP/STL upload replaces the part's CAD file, a PDF its drawing; the other " +
			"kind is kept. `file` becomes the uploaded file's name: the most recent CAD file or drawing, as in " +
			"the original (the model keeps following the CAD file). The served name is a safe " +
			"ASCII version of the client's name; the original is kept for downloads. A failed or cut-off " +
			"upload leaves the previous file and the part unchanged. `conversion` is present for CAD " +
			"uploads only. Honours If-Match.",
		IfMatch: true,
		Body: &body{ContentType: "multipart/form-data", Required: true,
			Schema: obj(props{"file": binary()}, "file")},
		Responses: map[int]response{
			201: {Description: "Stored", Schema: uploadResult},
			400: {Description: "No file part, an empty file name, an empty file, an extension that is not allowed (as the original API answered) or a malformed body", Schema: ref("Error")},
			413: {Description: "The file is larger than the upload limit (default 200 MiB), detected while streaming", Schema: ref("Error")},
			415: {Description: "The content does not match the extension (e.g. a .step file that does not start with ISO-10303-21;)", Schema: ref("Error")},
			408: {Description: "The body arrived slower than the minimum upload rate (default 256 B/s over a minute); nothing was stored", Schema: ref("Error")},
			429: {Description: "Too many uploads in progress from this address (default 8); Retry-After", Schema: ref("Error")},
			503: {Description: "The file store is read-only (Retry-After); reads still work", Schema: ref("Error")},
			507: {Description: "The file store or the database is full; reads still work", Schema: ref("Error")},
		},
	}})
	rt.add(route{Method: http.MethodGet, Path: id + "/download", Access: accessRead, Handler: h.downloadMain, Doc: op{
		Summary: "Download the part's main file as an attachment",
		Description: "The CAD file the part's `file` names, else its CAD file, else its drawing; only files " +
			"the part holds are ever served, whatever `file` says. Content-Type application/step, model/stl " +
			"or application/pdf.",
		Responses: download("The file"),
	}})
	rt.add(route{Method: http.MethodGet, Path: id + "/file", Access: accessRead, Handler: h.inlineMain, Doc: op{
		Summary:     "The part's main file, inline",
		Description: "Same file as /download, with Content-Disposition inline.",
		Responses:   download("The file"),
	}})
	rt.add(route{Method: http.MethodGet, Path: id + "/download/:filename", Access: accessRead, Handler: h.downloadNamed, Doc: op{
		Summary: "Download a named file of the part",
		Description: "filename is a served name from the part's `files` (its STEP, PDF, converted GLB or a " +
			"view); any other name is 404. Never a path.",
		Responses: download("The file"),
	}})
	viewsManifest := schema{"type": "object", "nullable": true, "additionalProperties": true,
		"description": `{"files": {"0": {"filename", "timestamp"}, ...}, "updated_at"}`}
	viewFields := props{}
	for i := range parts.MaxViews {
		viewFields["view_"+strconv.Itoa(i)] = binary()
	}
	rt.add(route{Method: http.MethodPost, Path: id + "/views", Access: accessWrite, Handler: h.uploadViews, Doc: op{
		Summary: "Upload preview images (view_0 .. view_7)",
		Description: "multipart/form-data with PNG images in fields view_0 .. view_7, streamed one by one. " +
			"They replace the part's views of the same numbers and are merged into miscInfo.views (other " +
			"views and other miscInfo keys stay). All or nothing: one bad image stores none.",
		Body: &body{ContentType: "multipart/form-data", Required: true, Schema: obj(viewFields)},
		Responses: map[int]response{
			200: {Description: "Stored", Schema: obj(props{"success": boolean(), "views": viewsManifest})},
			400: {Description: "No views, a view number outside 0..7, or a malformed body", Schema: ref("Error")},
			413: {Description: "An image is larger than the preview limit (default 16 MiB)", Schema: ref("Error")},
			415: {Description: "An image is not a PNG", Schema: ref("Error")},
		},
	}})
	rt.add(route{Method: http.MethodGet, Path: id + "/views", Access: accessRead, Handler: h.viewsManifest, Doc: op{
		Summary:   "The part's views manifest",
		Responses: map[int]response{200: {Description: "miscInfo.views, or null", Schema: obj(props{"views": viewsManifest})}},
	}})
	rt.add(route{Method: http.MethodGet, Path: id + "/views/:i", Access: accessRead, Handler: h.view, Doc: op{
		Summary:   "One preview image (PNG)",
		Responses: download("The image (image/png), inline"),
	}})
	drawing := download("The drawing PDF, inline")
	drawing[400] = response{Description: "The part is not a hand part", Schema: ref("Error")}
	drawing[404] = response{Description: "No such part, or the part has no onshapeUrl", Schema: ref("Error")}
	drawing[502] = response{Description: "Onshape refused or failed the export", Schema: ref("Error")}
	drawing[503] = response{Description: "Fetching drawings is not configured (Onshape API keys)", Schema: ref("Error")}
	rt.add(route{Method: http.MethodGet, Path: id + "/drawing", Access: accessRead, Handler: h.drawing, Doc: op{
		Summary: "A hand part's drawing PDF, fetched from Onshape",
		Description: "For hand parts only. The first request exports the drawing of the part's onshapeUrl " +
			"(documents/{did}/w|v/{wvid}/e/{eid}) as PDF through the Onshape API configured on the server " +
			"(API keys required) and caches it as the part's drawing file; later requests serve the cache. " +
			"Only the IDs are taken from onshapeUrl: requests always go to the configured Onshape API base.",
		Query:     []param{{Name: "refresh", Description: "true refetches the drawing (needs an editor key)", Schema: boolean()}},
		Responses: drawing,
	}})
	h.registerConvertRoutes(rt)
}

// uploadLimit is the cap on a whole upload request body.
func (h *handler) uploadLimit(fileLimit int64) int64 {
	slack := h.opts.Files.MultipartSlack
	if slack <= 0 {
		slack = DefaultMultipartSlack
	}
	return fileLimit + slack
}

// bodyBufSize is the read buffer of an upload's request body.
const bodyBufSize = 64 << 10

// multipartReader caps the request body and opens it as multipart/form-data.
// The returned body records a failed read, so that an upload the client cut
// off is answered as the client's problem (400), not the server's.
func (h *handler) multipartReader(w http.ResponseWriter, r *http.Request, limit int64) (*multipart.Reader, *watchedBody, error) {
	if r.ContentLength > limit {
		return nil, nil, &http.MaxBytesError{Limit: limit}
	}
	body := &watchedBody{r: http.MaxBytesReader(w, r.Body, limit)}
	if rate := h.opts.Files.MinUploadRate; rate > 0 {
		body.rate = newRateReader(w, body.r, rate, h.opts.Files.UploadRateWindow)
		body.r, body.slow = body.rate, h.slowUploadError()
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, nil, &parts.ValidationError{Field: "file", Reason: "No file part: send multipart/form-data"}
	}
	// multipart reads through a 4 KiB buffer of its own: in front of it,
	// one of bodyBufSize makes a read system call bring 64 KiB, not 4.
	return multipart.NewReader(bufio.NewReaderSize(body, bodyBufSize), params["boundary"]), body, nil
}

// watchedBody remembers the first error reading the request body.
type watchedBody struct {
	r    io.Reader
	err  error
	rate *rateReader // nil without a minimum rate
	slow error       // the answer to errUploadTooSlow
}

// done ends the rate check, if any.
func (b *watchedBody) done(w http.ResponseWriter) {
	if b != nil && b.rate != nil {
		b.rate.done(w)
	}
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// explain turns an upload error caused by the request body breaking off
// into a 400; limits, content checks and everything else pass through.
func (b *watchedBody) explain(err error) error {
	var mbe *http.MaxBytesError
	if err == nil || b.err == nil || errors.As(b.err, &mbe) || errors.As(err, &mbe) {
		return err
	}
	if errors.Is(b.err, errUploadTooSlow) {
		return b.slow
	}
	if errors.Is(err, parts.ErrTooLarge) || errors.Is(err, parts.ErrUnsupportedType) || errors.Is(err, parts.ErrInvalid) {
		return err
	}
	return &statusError{status: http.StatusBadRequest, message: "The upload was cut off before the file was complete; nothing was stored"}
}

// bodyError explains an error reading a multipart body.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return &parts.ValidationError{Field: "file", Reason: "Malformed multipart body: " + err.Error()}
}

// fileName returns the client's file name of a multipart part, unaltered
// (multipart.Part.FileName strips directories with the server's rules;
// the library does its own, stricter, sanitising).
func fileName(p *multipart.Part) (string, bool) {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return "", false
	}
	name, ok := params["filename"]
	return name, ok
}

// upload serves POST /api/parts/{id}/upload.
func (h *handler) upload(w http.ResponseWriter, req bunrouter.Request) error {
	id, err := h.partID(req)
	if err != nil {
		return err
	}
	ver, err := h.ifMatch(req.Context(), req, id)
	if err != nil {
		return err
	}
	client := stateFrom(req.Context()).client.String()
	if !h.uploads.acquire(client, h.opts.Files.MaxUploadsPerClient) {
		return tooManyRequests(fmt.Sprintf("Too many uploads in progress from this address (at most %d at once)", h.opts.Files.MaxUploadsPerClient), 5*time.Second)
	}
	defer h.uploads.release(client)
	mr, watched, err := h.multipartReader(w, req.Request, h.uploadLimit(h.svc.Uploads().MaxSize))
	if err != nil {
		return err
	}
	defer watched.done(w)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return &parts.ValidationError{Field: "file", Reason: "No file part"}
		}
		if err != nil {
			return watched.explain(bodyError(err))
		}
		if p.FormName() != "file" {
			continue // NextPart skips the rest of this part
		}
		name, ok := fileName(p)
		if !ok || strings.TrimSpace(name) == "" {
			return &parts.ValidationError{Field: "file", Reason: "No selected file"}
		}
		res, err := h.svc.UploadFile(req.Context(), id, parts.Upload{Name: name, Body: p, Actor: h.actor(req), IfVersion: ver})
		if err != nil {
			return watched.explain(err)
		}
		w.Header().Set("ETag", res.Part.ETag())
		out := map[string]any{
			"message":   "File uploaded successfully",
			"filename":  res.File.Name,
			"file_path": h.downloadPath(req.Request, id, res.File.Name),
			"path":      h.downloadPath(req.Request, id, res.File.Name),
			"file":      toFileJSON(res.File),
		}
		if res.File.Kind == parts.FileCAD {
			part := res.Part
			if part.Model.State == parts.ModelPending {
				if waited, err := h.svc.WaitModel(req.Context(), id, h.opts.Convert.UploadWait); err == nil {
					part = waited
				}
			}
			out["conversion"] = conversionStatus(part)
		}
		writeJSON(w, http.StatusCreated, out)
		return nil
	}
}

func toFileJSON(f parts.File) fileJSON {
	return fileJSON{Name: f.Name, Kind: string(f.Kind), Size: f.Size, SHA256: f.SHA256,
		ContentType: f.ContentType, UploadedAt: formatTime(f.UploadedAt)}
}

// downloadPath is the URL path a file of part id downloads from, as the
// client of request r sees it (with any mount prefix).
func (h *handler) downloadPath(r *http.Request, id int64, name string) string {
	return h.root(r) + "/api/parts/" + strconv.FormatInt(id, 10) + "/download/" + name
}

type opener func() (io.ReadSeekCloser, parts.File, error)

// send serves an opened file with http.ServeContent: Content-Type by kind,
// Content-Disposition with the original name, the SHA-256 as ETag, and
// Range / If-None-Match / If-Range handling.
func send(w http.ResponseWriter, r *http.Request, disposition string, open opener) error {
	rc, f, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	ct := f.ContentType
	if ct == "" {
		ct = parts.ContentTypeOf(strings.TrimPrefix(path.Ext(f.Name), "."))
	}
	hd := w.Header()
	hd.Set("Content-Type", ct)
	hd.Set("Content-Disposition", contentDisposition(disposition, f.OriginalName, f.Name))
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "private, no-cache")
	if f.SHA256 != "" {
		hd.Set("ETag", `"`+f.SHA256+`"`)
	}
	if compressible[ct] {
		hd.Add("Vary", "Accept-Encoding")
		if enc := acceptedEncoding(r); enc != "" && r.Header.Get("Range") == "" && f.SHA256 != "" {
			return sendEncoded(w, r, enc, f.SHA256, rc)
		}
	}
	http.ServeContent(&rangeErrorWriter{ResponseWriter: w}, r, "", f.UploadedAt, rc)
	return nil
}

// compressible are the content types of downloads worth compressing: STEP
// is text, GLB mostly vertex data that compresses well. (PDF, PNG and STL
// are left as they are.)
var compressible = map[string]bool{"application/step": true, "model/gltf-binary": true}

// sendEncoded streams a whole file in the content coding enc, with its own
// strong ETag (the file's SHA-256 and the coding) and no Content-Length.
// Range requests never get here: they are answered in bytes of the file.
func sendEncoded(w http.ResponseWriter, r *http.Request, enc, sum string, rc io.Reader) error {
	hd := w.Header()
	if _, ok := noneMatch(r, sum); ok {
		hd.Set("ETag", etag(sum, enc))
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	hd.Set("ETag", etag(sum, enc))
	hd.Set("Content-Encoding", enc)
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	zw, err := newEncoder(enc, w)
	if err != nil {
		return nil // the status is sent; the client sees a truncated body
	}
	if _, err := io.Copy(zw, rc); err == nil {
		_ = zw.Close()
	}
	return nil
}

// rangeErrorWriter turns http.ServeContent's plain-text 416 answer to an
// unsatisfiable Range into the API's JSON error body (keeping its
// Content-Range header).
type rangeErrorWriter struct {
	http.ResponseWriter
	swallow bool
}

// WriteHeader implements http.ResponseWriter.
func (w *rangeErrorWriter) WriteHeader(status int) {
	if status != http.StatusRequestedRangeNotSatisfiable {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.swallow = true
	writeJSON(w.ResponseWriter, status, errorBody{Error: "The requested range cannot be satisfied",
		Details: "Content-Range gives the file's size"})
}

// Write implements http.ResponseWriter.
func (w *rangeErrorWriter) Write(b []byte) (int, error) {
	if w.swallow {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *rangeErrorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// contentDisposition builds an RFC 6266 header value: an ASCII filename
// (the original when it is plain printable ASCII, else the safe served
// name) and, when the original differs, filename* with the UTF-8 original
// percent-encoded per RFC 5987.
func contentDisposition(disposition, original, safe string) string {
	fallback := safe
	if isPlainASCII(original) {
		fallback = original
	}
	v := disposition + `; filename="` + fallback + `"`
	if original != "" && original != fallback {
		v += "; filename*=UTF-8''" + rfc5987(original)
	}
	return v
}

func isPlainASCII(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '%' || c == ';' {
			return false
		}
	}
	return true
}

// rfc5987 percent-encodes s except for RFC 5987 attr-chars.
func rfc5987(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func (h *handler) downloadMain(w http.ResponseWriter, req bunrouter.Request) error {
	return h.main(w, req, "attachment")
}

func (h *handler) inlineMain(w http.ResponseWriter, req bunrouter.Request) error {
	return h.main(w, req, "inline")
}

func (h *handler) main(w http.ResponseWriter, req bunrouter.Request, disposition string) error {
	id, err := h.partID(req)
	if err != nil {
		return err
	}
	return send(w, req.Request, disposition, func() (io.ReadSeekCloser, parts.File, error) {
		return h.svc.OpenMainFile(req.Context(), id)
	})
}

func (h *handler) downloadNamed(w http.ResponseWriter, req bunrouter.Request) error {
	id, err := h.partID(req)
	if err != nil {
		return err
	}
	name := req.Param("filename")
	return send(w, req.Request, "attachment", func() (io.ReadSeekCloser, parts.File, error) {
		return h.svc.OpenFile(req.Context(), id, name)
	})
}

// uploadViews serves POST /api/parts/{id}/views.
func (h *handler) uploadViews(w http.ResponseWriter, req bunrouter.Request) error {
	id, err := h.partID(req)
	if err != nil {
		return err
	}
	if _, err := h.svc.FindPartByID(req.Context(), id); err != nil {
		return err
	}
	mr, watched, err := h.multipartReader(w, req.Request, h.uploadLimit(parts.MaxViews*h.svc.Uploads().MaxViewSize))
	if err != nil {
		return err
	}
	next := func() (parts.ViewUpload, error) {
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return parts.ViewUpload{}, io.EOF
			}
			if err != nil {
				return parts.ViewUpload{}, bodyError(err)
			}
			num, ok := strings.CutPrefix(p.FormName(), "view_")
			if !ok {
				continue
			}
			i, err := strconv.Atoi(num)
			if err != nil || strconv.Itoa(i) != num {
				return parts.ViewUpload{}, &parts.ValidationError{Field: "views",
					Reason: fmt.Sprintf("unexpected field %q (want view_0 .. view_%d)", p.FormName(), parts.MaxViews-1)}
			}
			name, _ := fileName(p)
			return parts.ViewUpload{Index: i, Name: name, Body: p}, nil
		}
	}
	p, err := h.svc.UploadViews(req.Context(), id, next, h.actor(req))
	if err != nil {
		return watched.explain(err)
	}
	w.Header().Set("ETag", p.ETag())
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "views": p.MiscInfo["views"]})
	return nil
}

func (h *handler) viewsManifest(w http.ResponseWriter, req bunrouter.Request) error {
	id, err := h.partID(req)
	if err != nil {
		return err
	}
	p, err := h.svc.FindPartByID(req.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"views": p.MiscInfo["views"]})
	return nil
}

func (h *handler) view(w http.ResponseWriter, req bunrouter.Request) error {
	id, err := h.partID(req)
	if err != nil {
		return err
	}
	s := req.Param("i")
	i, err := strconv.Atoi(s)
	if err != nil || strconv.Itoa(i) != s || i < 0 || i >= parts.MaxViews {
		return &statusError{status: http.StatusNotFound, message: "File not found"}
	}
	return send(w, req.Request, "inline", func() (io.ReadSeekCloser, parts.File, error) {
		return h.svc.OpenView(req.Context(), id, i)
	})
}

// drawing serves GET /api/parts/{id}/drawing.
func (h *handler) drawing(w http.ResponseWriter, req bunrouter.Request) error {
	id, err := h.partID(req)
	if err != nil {
		return err
	}
	refresh, _ := strconv.ParseBool(req.URL.Query().Get("refresh"))
	if refresh { // a refetch writes a file and spends Onshape quota: a write
		if err := h.authorizeWrite(req.Context()); err != nil {
			return err
		}
	}
	return send(w, req.Request, "inline", func() (io.ReadSeekCloser, parts.File, error) {
		return h.svc.Drawing(req.Context(), id, refresh, h.actor(req))
	})
}
