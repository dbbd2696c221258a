package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/uptrace/bunrouter"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/webhooks"
)

var (
	errNoWebhooks = &statusError{status: http.StatusNotFound, message: "Webhooks are not enabled on this server"}
)

// webhookManager returns the manager or the 404 of a server without one.
func (h *handler) webhookManager() (*webhooks.Manager, error) {
	if h.opts.Webhooks == nil {
		return nil, errNoWebhooks
	}
	return h.opts.Webhooks, nil
}

func (h *handler) listWebhooks(w http.ResponseWriter, req bunrouter.Request) error {
	m, err := h.webhookManager()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": m.List()})
	return nil
}

func (h *handler) getWebhook(w http.ResponseWriter, req bunrouter.Request) error {
	m, err := h.webhookManager()
	if err != nil {
		return err
	}
	st, err := m.Get(req.Param("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (h *handler) webhookDeliveries(w http.ResponseWriter, req bunrouter.Request) error {
	m, err := h.webhookManager()
	if err != nil {
		return err
	}
	st, err := m.Get(req.Param("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": st.ID, "enabled": st.Enabled,
		"disabledReason": st.DisabledReason, "cursor": st.Cursor, "deliveries": st.Deliveries})
	return nil
}

func (h *handler) putWebhook(w http.ResponseWriter, req bunrouter.Request) error {
	m, err := h.webhookManager()
	if err != nil {
		return err
	}
	b, err := h.readJSON(req.Request)
	if err != nil {
		return err
	}
	var e webhooks.Endpoint
	if err := json.Unmarshal(b, &e); err != nil {
		return &parts.ValidationError{Field: "body", Reason: "body must be a JSON webhook endpoint"}
	}
	e.ID = req.Param("name")
	st, err := m.Put(req.Context(), e)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (h *handler) deleteWebhook(w http.ResponseWriter, req bunrouter.Request) error {
	m, err := h.webhookManager()
	if err != nil {
		return err
	}
	if err := m.Delete(req.Param("name")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": "Webhook endpoint deleted"})
	return nil
}

// webhookSchemas are the OpenAPI components of webhook management.
func webhookSchemas() map[string]schema {
	endpoint := props{
		"id": str(), "url": schema{"type": "string", "description": "https, unless allowHttp"},
		"actions":      schema{"type": "array", "items": str(), "description": "Only these actions; empty means all"},
		"category":     enum(names(parts.Categories)...),
		"format":       enum("json", "slack", "discord"),
		"enabled":      schema{"type": "boolean"},
		"allowHttp":    schema{"type": "boolean"},
		"allowPrivate": schema{"type": "boolean", "description": "Allow loopback, private and link-local addresses"},
	}
	in := props{"secret": schema{"type": "string", "description": "At least 16 bytes; omit on update to keep the current one. Never returned."}}
	for k, v := range endpoint {
		in[k] = v
	}
	attempt := obj(props{"at": schema{"type": "string", "format": "date-time"}, "seq": integer(), "deliveryId": str(),
		"attempt": integer(), "statusCode": integer(), "latencyNs": integer(), "error": str(),
		"outcome": enum("delivered", "retry", "failed", "gave-up")})
	status := props{"cursor": integer(), "failures": integer(), "disabledReason": str(), "deliveries": arr(ref("WebhookAttempt"))}
	for k, v := range endpoint {
		status[k] = v
	}
	return map[string]schema{"WebhookInput": obj(in, "url"), "Webhook": obj(status, "id", "url", "enabled"),
		"WebhookAttempt": attempt}
}

// registerWebhookRoutes adds the webhook management routes (admin keys).
func (h *handler) registerWebhookRoutes(rt *routeTable) {
	notFound := response{Description: "No such endpoint, or webhooks are not enabled", Schema: ref("Error")}
	rt.add(route{Method: http.MethodGet, Path: "/api/webhooks", Access: accessAdmin, Handler: h.listWebhooks, Doc: op{
		Summary:   "List webhook endpoints with their delivery state (secrets are never shown)",
		Responses: map[int]response{200: {Description: "Endpoints", Schema: obj(props{"webhooks": arr(ref("Webhook"))})}, 404: notFound},
	}})
	path := "/api/webhooks/:name"
	rt.add(route{Method: http.MethodGet, Path: path, Access: accessAdmin, Handler: h.getWebhook, Doc: op{
		Summary:   "Get a webhook endpoint",
		Responses: map[int]response{200: {Description: "The endpoint", Schema: ref("Webhook")}, 404: notFound},
	}})
	rt.add(route{Method: http.MethodPut, Path: path, Access: accessAdmin, Handler: h.putWebhook, Doc: op{
		Summary: "Create or replace a webhook endpoint",
		Description: "A new endpoint gets the events committed from now on. An existing one keeps its cursor and " +
			"delivery log; enabling a disabled one clears the reason and resumes after its cursor.",
		Body:      &body{ContentType: "application/json", Schema: ref("WebhookInput"), Required: true},
		Responses: map[int]response{200: {Description: "The endpoint", Schema: ref("Webhook")}, 404: notFound},
	}})
	rt.add(route{Method: http.MethodDelete, Path: path, Access: accessAdmin, Handler: h.deleteWebhook, Doc: op{
		Summary:   "Delete a webhook endpoint (pending deliveries are dropped)",
		Responses: map[int]response{200: {Description: "Deleted", Schema: ref("Message")}, 404: notFound},
	}})
	rt.add(route{Method: http.MethodGet, Path: path + "/deliveries", Access: accessAdmin, Handler: h.webhookDeliveries, Doc: op{
		Summary: "The endpoint's recent delivery attempts, oldest first",
		Responses: map[int]response{200: {Description: "Delivery log", Schema: obj(props{"id": str(), "enabled": schema{"type": "boolean"},
			"disabledReason": str(), "cursor": integer(), "deliveries": arr(ref("WebhookAttempt"))})}, 404: notFound},
	}})
}
