package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/uptrace/bunrouter"

	"github.com/partflow/partflow/parts"
)

// keyring holds the SHA-256 digests of the configured keys, so that
// comparisons take the same time whatever the length or content of the key
// a client sends.
type keyring struct {
	keys []hashedKey
}

type hashedKey struct {
	digest [sha256.Size]byte
	name   string
	role   Role
	roles  []string
}

func newKeyring(keys []Key) *keyring {
	kr := &keyring{}
	for _, k := range keys {
		kr.keys = append(kr.keys, hashedKey{digest: sha256.Sum256([]byte(k.Key)), name: k.Name, role: k.Role,
			roles: append([]string{k.Role.String()}, k.Roles...)})
	}
	return kr
}

// match returns the key equal to secret. It compares against every key,
// in constant time each, and does not stop at the first match.
func (kr *keyring) match(secret string) (hashedKey, bool) {
	d := sha256.Sum256([]byte(secret))
	var found hashedKey
	ok := 0
	for _, k := range kr.keys {
		eq := subtle.ConstantTimeCompare(d[:], k.digest[:])
		if eq == 1 && ok == 0 {
			found = k
		}
		ok |= eq
	}
	return found, ok == 1
}

// presentedKey finds the key the client sent: the X-API-Key header, then the
// api_key query parameter (only with AllowQueryKey), then "api_key" in the
// JSON body of a POST or PUT. queryRefused reports a query key that was
// ignored because query keys are off.
func (h *handler) presentedKey(r *http.Request) (key string, queryRefused bool, err error) {
	if k := r.Header.Get("X-API-Key"); k != "" {
		return k, false, nil
	}
	if q := r.URL.Query(); q.Has("api_key") {
		if h.opts.AllowQueryKey {
			if k := q.Get("api_key"); k != "" {
				return k, false, nil
			}
		} else {
			queryRefused = true
		}
	}
	if (r.Method == http.MethodPost || r.Method == http.MethodPut) && r.Body != nil && r.Body != http.NoBody && isJSONRequest(r) {
		b, err := h.readJSON(r)
		if err != nil {
			return "", queryRefused, err
		}
		if o, err := decodeObject(b); err == nil {
			if k, _, err := o.str("api_key"); err == nil && k != "" {
				return k, queryRefused, nil
			}
		}
	}
	return "", queryRefused, nil
}

// withAccess authenticates requests to routes that need it (the API keys,
// or Options.Authenticator) and asks the policy about the route's access.
func (h *handler) withAccess(a access, next bunrouter.HandlerFunc) bunrouter.HandlerFunc {
	if a == accessPublic {
		return next
	}
	op := map[access]Operation{accessRead: OpRead, accessWrite: OpWrite, accessAdmin: OpAdmin}[a]
	return func(w http.ResponseWriter, req bunrouter.Request) error {
		st := stateFrom(req.Context())
		var p Principal
		var err error
		if h.opts.Authenticator != nil {
			p, err = h.authenticate(req.Request)
		} else {
			p, err = h.keyPrincipal(req.Request, st, a)
		}
		if err != nil {
			return err
		}
		st.keyName, st.principal = p.Name, p
		if err := h.opts.Policy.Authorize(req.Context(), p, op, nil); err != nil {
			return err
		}
		return next(w, req)
	}
}

// authorizeWrite asks the policy whether the request's principal may
// write, for a read route that writes on request. A read-only API key gets
// the usual "read-only" answer.
func (h *handler) authorizeWrite(ctx context.Context) error {
	p := stateFrom(ctx).principal
	err := h.opts.Policy.Authorize(ctx, p, OpWrite, nil)
	if err != nil && h.opts.Authenticator == nil && !p.HasRole(RoleEditor.String()) && !p.HasRole(RoleAdmin.String()) {
		return errReadOnly
	}
	return err
}

// authenticate runs Options.Authenticator and maps its refusals to 401s.
func (h *handler) authenticate(r *http.Request) (Principal, error) {
	p, err := h.opts.Authenticator.Authenticate(r)
	switch {
	case errors.Is(err, ErrNoCredentials):
		return p, &statusError{status: http.StatusUnauthorized, message: "Authentication required"}
	case errors.Is(err, ErrBadCredentials):
		return p, &statusError{status: http.StatusUnauthorized, message: "Invalid credentials"}
	case err != nil:
		return p, fmt.Errorf("authenticate: %w", err)
	case p.Name == "":
		return p, errors.New("authenticate: the authenticator returned a principal without a name")
	}
	return p, nil
}

// keyPrincipal is the built-in authentication: the API keys, with the
// failed-key limit.
func (h *handler) keyPrincipal(r *http.Request, st *requestState, a access) (Principal, error) {
	secret, queryRefused, err := h.presentedKey(r)
	if err != nil {
		return Principal{}, err
	}
	if secret == "" {
		if queryRefused {
			return Principal{}, &statusError{status: http.StatusUnauthorized, message: errKeyRequired.message,
				details: "Keys in the URL are disabled on this server; send the X-API-Key header."}
		}
		return Principal{}, errKeyRequired
	}
	k, ok := h.keys.match(secret)
	if !ok {
		if k, ok, err = h.storedKey(r.Context(), secret); err != nil {
			return Principal{}, err
		}
	}
	if !ok {
		return Principal{}, h.failedKey(st.client.String())
	}
	switch {
	case a == accessWrite && k.role < RoleEditor:
		return Principal{}, errReadOnly
	case a == accessAdmin && k.role < RoleAdmin:
		return Principal{}, errAdminOnly
	}
	return Principal{Name: k.name, Roles: slices.Clone(k.roles)}, nil
}

// storedKey looks secret up among the per-person keys in the database
// (when the store keeps them). Each request reads the database, so a
// revocation applies on every server at once.
func (h *handler) storedKey(ctx context.Context, secret string) (hashedKey, bool, error) {
	sk, err := h.svc.AuthenticateKey(ctx, secret)
	switch {
	case errors.Is(err, parts.ErrUnauthorized) || errors.Is(err, parts.ErrNoKeyStore):
		return hashedKey{}, false, nil
	case err != nil:
		return hashedKey{}, false, err
	}
	role, err := ParseRole(sk.Role)
	if err != nil {
		return hashedKey{}, false, nil // a role this version does not know grants nothing
	}
	return hashedKey{name: sk.Name, role: role, roles: append([]string{role.String()}, sk.Roles...)}, true, nil
}

// failedKey answers a wrong key from client: 401, or 429 with Retry-After
// once the address has sent more than FailedAuthLimit wrong keys in the
// current window. A valid key is never refused because of earlier failures
// from its address (many clients share one address behind NAT or an
// untrusted proxy): guessing is defeated by the keys' entropy, the limit
// only slows it and keeps the logs quiet.
func (h *handler) failedKey(client string) error {
	if h.opts.FailedAuthLimit <= 0 {
		return errKeyInvalid
	}
	now := h.opts.Now()
	if wait := h.failures.blocked(client, now, h.opts.FailedAuthLimit); wait > 0 {
		return tooManyRequests("Too many failed authentication attempts from this address", wait)
	}
	h.failures.hit(client, now, h.opts.FailedAuthWindow)
	return errKeyInvalid
}

// tooManyRequests is a 429 telling the client to wait at least wait.
func tooManyRequests(message string, wait time.Duration) error {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return &statusError{status: http.StatusTooManyRequests, message: message, retryAfter: secs}
}

// authCheck answers GET /api/parts/auth/check: 200 for a valid key, at most
// once per AuthCheckInterval for the same key and client address.
func (h *handler) authCheck(w http.ResponseWriter, req bunrouter.Request) error {
	st := stateFrom(req.Context())
	now := h.opts.Now()
	w.Header().Set("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Expires", "0")
	id := st.keyName + "\x00" + st.client.String()
	if wait := h.authChecks.since(id, now, h.opts.AuthCheckInterval); wait > 0 {
		return tooManyRequests("Too many authentication checks, try again shortly", wait)
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"status":    "authenticated",
		"message":   "API key is valid",
		"timestamp": formatTime(now),
	})
	return nil
}
