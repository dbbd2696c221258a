package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/uptrace/bunrouter"

	"github.com/partflow/partflow/parts"
)

// keyJSON is a stored key as the API shows it: never the secret or its
// digest, except "key" right after creation or rotation.
type keyJSON struct {
	ID         int64    `json:"id"`
	Name       string   `json:"name"`
	Role       string   `json:"role"`
	Roles      []string `json:"roles"`
	Prefix     string   `json:"prefix"`
	CreatedAt  string   `json:"createdAt"`
	ExpiresAt  *string  `json:"expiresAt"`
	RevokedAt  *string  `json:"revokedAt"`
	LastUsedAt *string  `json:"lastUsedAt"`
	Key        string   `json:"key,omitempty"`
}

func optFormat(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := formatTime(*t)
	return &s
}

func toKeyJSON(k *parts.APIKey, secret string) keyJSON {
	roles := k.Roles
	if roles == nil {
		roles = []string{}
	}
	return keyJSON{ID: k.ID, Name: k.Name, Role: k.Role, Roles: roles, Prefix: k.Prefix, CreatedAt: formatTime(k.CreatedAt),
		ExpiresAt: optFormat(k.ExpiresAt), RevokedAt: optFormat(k.RevokedAt), LastUsedAt: optFormat(k.LastUsedAt), Key: secret}
}

// keyID parses the :key path parameter.
func keyID(req bunrouter.Request) (int64, error) {
	id, err := strconv.ParseInt(req.Param("key"), 10, 64)
	if err != nil || id < 1 {
		return 0, parts.ErrKeyNotFound
	}
	return id, nil
}

func (h *handler) listKeys(w http.ResponseWriter, req bunrouter.Request) error {
	ks, err := h.svc.Keys(req.Context())
	if err != nil {
		return err
	}
	out := make([]keyJSON, len(ks))
	for i, k := range ks {
		out[i] = toKeyJSON(k, "")
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": out})
	return nil
}

// createKey answers POST /api/keys: {name, role, roles?, expiresAt?}.
func (h *handler) createKey(w http.ResponseWriter, req bunrouter.Request) error {
	b, err := h.readJSON(req.Request)
	if err != nil {
		return err
	}
	o, err := decodeObject(b)
	if err != nil {
		return err
	}
	var in parts.NewKey
	for _, f := range []struct {
		name string
		dst  *string
	}{{"name", &in.Name}, {"role", &in.Role}} {
		if *f.dst, _, err = o.str(f.name); err != nil {
			return err
		}
	}
	if in.Roles, err = o.strings("roles"); err != nil {
		return err
	}
	exp, present, err := o.str("expiresAt")
	if err != nil {
		return err
	}
	if present && exp != "" {
		t, err := time.Parse(time.RFC3339, exp)
		if err != nil {
			return &parts.ValidationError{Field: "expiresAt", Reason: "expiresAt must be an RFC 3339 date-time"}
		}
		in.ExpiresAt = &t
	}
	secret, k, err := h.svc.CreateKey(req.Context(), in)
	if err != nil {
		return err
	}
	h.opts.Logger.Info("api key created", "key", k.Name, "by", h.actor(req))
	writeJSON(w, http.StatusCreated, toKeyJSON(k, secret))
	return nil
}

func (h *handler) rotateKey(w http.ResponseWriter, req bunrouter.Request) error {
	id, err := keyID(req)
	if err != nil {
		return err
	}
	secret, k, err := h.svc.RotateKey(req.Context(), id)
	if err != nil {
		return err
	}
	h.opts.Logger.Info("api key rotated", "key", k.Name, "by", h.actor(req))
	writeJSON(w, http.StatusOK, toKeyJSON(k, secret))
	return nil
}

func (h *handler) revokeKey(w http.ResponseWriter, req bunrouter.Request) error {
	id, err := keyID(req)
	if err != nil {
		return err
	}
	if err := h.svc.RevokeKey(req.Context(), id); err != nil {
		return err
	}
	h.opts.Logger.Info("api key revoked", "id", id, "by", h.actor(req))
	writeJSON(w, http.StatusOK, map[string]string{"message": fmt.Sprintf("Key %d revoked", id)})
	return nil
}

// registerKeyRoutes adds the admin routes that manage per-person keys.
func (h *handler) registerKeyRoutes(rt *routeTable) {
	keyParam := []param{{Name: "key", Description: "The key's numeric id", Schema: integer()}}
	keyResp := obj(props{"id": integer(), "name": str(), "role": str(), "roles": arr(str()), "prefix": str(),
		"createdAt": str(), "expiresAt": str(), "revokedAt": str(), "lastUsedAt": str(),
		"key": schema{"type": "string", "description": "The secret: only in the answers of create and rotate"}})
	rt.add(route{Method: http.MethodGet, Path: "/api/keys", Access: accessAdmin, Handler: h.listKeys, Doc: op{
		Summary:   "List the per-person API keys (never their secrets)",
		Responses: map[int]response{200: {Description: "Keys", Schema: obj(props{"keys": arr(keyResp)})}},
	}})
	rt.add(route{Method: http.MethodPost, Path: "/api/keys", Access: accessAdmin, Handler: h.createKey, Doc: op{
		Summary: "Create a per-person API key",
		Description: "Body {name, role (read-only, editor, admin), roles (extra role names), expiresAt (RFC 3339)}. " +
			"The answer's key is the secret, shown only now; the server keeps its SHA-256.",
		Body:      &body{ContentType: "application/json", Schema: obj(props{"name": str(), "role": str(), "roles": arr(str()), "expiresAt": str()}), Required: true},
		Responses: map[int]response{201: {Description: "Created, with the secret", Schema: keyResp}},
	}})
	rt.add(route{Method: http.MethodPost, Path: "/api/keys/:key/rotate", Access: accessAdmin, Handler: h.rotateKey, Doc: op{
		Summary: "Give a key a new secret (shown once); the old one stops working at once", Params: keyParam,
		Responses: map[int]response{200: {Description: "The key with its new secret", Schema: keyResp}},
	}})
	rt.add(route{Method: http.MethodDelete, Path: "/api/keys/:key", Access: accessAdmin, Handler: h.revokeKey, Doc: op{
		Summary: "Revoke a key: it stops working on every server sharing the database", Params: keyParam,
		Responses: map[int]response{200: {Description: "Revoked", Schema: ref("Message")}},
	}})
}

// strings reads a list of strings (absent or null: nil).
func (o object) strings(name string) ([]string, error) {
	v, _, ok := o.lookup(name)
	if !ok || isNull(v) {
		return nil, nil
	}
	var out []string
	if err := json.Unmarshal(v, &out); err != nil {
		return nil, &parts.ValidationError{Field: name, Reason: name + " must be a list of strings"}
	}
	return out, nil
}
