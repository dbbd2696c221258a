package httpapi

import (
	"io"
	"net/http"
	"time"

	"github.com/uptrace/bunrouter"

	"github.com/partflow/partflow/parts"
)

// ConvertOptions configure the model routes.
type ConvertOptions struct {
	// UploadWait is how long a CAD upload waits for its conversion before it
	// answers with the conversion still pending. Default 2 seconds.
	UploadWait time.Duration
	// ModelWait is how long GET /model waits for a pending conversion before
	// it answers 503 with Retry-After. Default 30 seconds.
	ModelWait time.Duration
}

// Defaults of ConvertOptions.
const (
	DefaultUploadWait = 2 * time.Second
	DefaultModelWait  = 30 * time.Second
)

// modelRetryAfter is the Retry-After, in seconds, of a model still converting.
const modelRetryAfter = 5

func (o ConvertOptions) withDefaults() ConvertOptions {
	if o.UploadWait <= 0 {
		o.UploadWait = DefaultUploadWait
	}
	if o.ModelWait <= 0 {
		o.ModelWait = DefaultModelWait
	}
	return o
}

// registerConvertRoutes adds GET /model and POST /convert.
func (h *handler) registerConvertRoutes(rt *routeTable) {
	id := "/api/parts/:id"
	convResult := obj(props{"success": boolean(), "status": str(), "error": orNull(str()), "gltf_path": orNull(str())})
	rt.add(route{Method: http.MethodGet, Path: id + "/model", Access: accessRead, Handler: h.model, Doc: op{
		Summary: "The GLB model converted from the part's CAD file",
		Description: "Serves model/gltf-binary (ETag, Range). If the model is not converted yet the request " +
			"queues the conversion and waits for it (up to a server-set time, default 30 s); a conversion " +
			"still running then answers 503 with Retry-After and status \"pending\". A file the converter " +
			"rejects answers 422 with the reason; no converter for the format answers 503 with status " +
			"\"unavailable\" and how to enable one.",
		Responses: map[int]response{
			200: {Description: "The GLB", ContentType: "model/gltf-binary", Schema: binary()},
			404: {Description: "No such part, or the part has no CAD file", Schema: ref("Error")},
			422: {Description: "The converter rejected the file", Schema: ref("Error")},
			503: {Description: "Still converting (Retry-After), or no converter for this format", Schema: ref("Error")},
		},
	}})
	rt.add(route{Method: http.MethodPost, Path: id + "/convert", Access: accessWrite, Handler: h.convertNow, Doc: op{
		Summary: "Convert the part's CAD file to GLB now",
		Description: "Runs the conversion (or takes the cached result for the same file, converter and " +
			"options) and records the model on the part. gltf_path is the GLB's file name, downloadable " +
			"from /api/parts/{id}/download/{gltf_path}.",
		Responses: map[int]response{
			200: {Description: "Converted", Schema: convResult},
			404: {Description: "No such part, or the part has no CAD file; success is false", Schema: ref("Error")},
			422: {Description: "The converter rejected the file; success is false", Schema: convResult},
			503: {Description: "No converter handles the file's format; success is false", Schema: convResult},
		},
	}})
}

// model serves GET /api/parts/{id}/model.
func (h *handler) model(w http.ResponseWriter, req bunrouter.Request) error {
	id, err := h.partID(req)
	if err != nil {
		return err
	}
	ctx := req.Context()
	p, err := h.svc.FindPartByID(ctx, id)
	if err != nil {
		return err
	}
	cad, ok := p.FileByKind(parts.FileCAD)
	if !ok {
		return &statusError{status: http.StatusNotFound, message: "Part has no CAD file to show as a model"}
	}
	if !modelCurrent(p, cad) && p.Model.State != parts.ModelPending {
		if p, err = h.svc.RequestConversion(ctx, id, h.actor(req)); err != nil {
			return err
		}
	}
	if p.Model.State == parts.ModelPending {
		if p, err = h.svc.WaitModel(ctx, id, h.opts.Convert.ModelWait); err != nil {
			return err
		}
	}
	switch {
	case modelCurrent(p, cad):
		return send(w, req.Request, "inline", func() (io.ReadSeekCloser, parts.File, error) {
			return h.svc.OpenFileOfKind(ctx, id, parts.FileModel)
		})
	case p.Model.State == parts.ModelPending:
		return &statusError{status: http.StatusServiceUnavailable, retryAfter: modelRetryAfter,
			message: "The model is still being converted; try again shortly", details: map[string]any{"status": "pending"}}
	case p.Model.State == parts.ModelFailed:
		return &statusError{status: http.StatusUnprocessableEntity, message: "The CAD file could not be converted",
			details: map[string]any{"status": "failed", "reason": p.Model.Error}}
	default:
		return &statusError{status: http.StatusServiceUnavailable, message: unavailableMessage(p.Model.Error),
			details: map[string]any{"status": "unavailable"}}
	}
}

// modelCurrent reports whether p has a ready model of its current CAD file.
func modelCurrent(p *parts.Part, cad parts.File) bool {
	if p.Model.State != parts.ModelReady || p.Model.Source != cad.SHA256 {
		return false
	}
	_, ok := p.FileByKind(parts.FileModel)
	return ok
}

func unavailableMessage(reason string) string {
	if reason == "" {
		return "No converter is configured for this file"
	}
	return reason
}

// convertNow serves POST /api/parts/{id}/convert. Every answer, errors
// included, carries success.
func (h *handler) convertNow(w http.ResponseWriter, req bunrouter.Request) error {
	if err := h.convertPart(w, req); err != nil {
		return &conversionAnswer{err: err}
	}
	return nil
}

func (h *handler) convertPart(w http.ResponseWriter, req bunrouter.Request) error {
	id, err := h.partID(req)
	if err != nil {
		return err
	}
	p, err := h.svc.ConvertNow(req.Context(), id, h.actor(req))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, conversionStatus(p))
	return nil
}

// conversionStatus reports a part's conversion in the shape the client
// reads: success, status (ready, pending, failed, unavailable), error and
// gltf_path (the GLB's file name).
func conversionStatus(p *parts.Part) map[string]any {
	switch p.Model.State {
	case parts.ModelPending:
		return map[string]any{"success": true, "status": "pending", "error": nil, "gltf_path": nil}
	case parts.ModelReady:
		if m, ok := p.FileByKind(parts.FileModel); ok {
			return map[string]any{"success": true, "status": "ready", "error": nil, "gltf_path": m.Name}
		}
	case parts.ModelFailed:
		return map[string]any{"success": false, "status": "failed", "error": p.Model.Error, "gltf_path": nil}
	}
	return map[string]any{"success": false, "status": "unavailable", "error": unavailableMessage(p.Model.Error), "gltf_path": nil}
}
