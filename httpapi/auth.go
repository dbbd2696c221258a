package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"math"
	"net/http"
	"time"

	"github.com/uptrace/bunrouter"
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
}

func newKeyring(keys []Key) *keyring {
	kr := &keyring{}
	for _, k := range keys {
		kr.keys = append(kr.keys, hashedKey{digest: sha256.Sum256([]byte(k.Key)), name: k.Name, role: k.Role})
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

// withAccess authenticates requests to routes that need a key.
func (h *handler) withAccess(a access, next bunrouter.HandlerFunc) bunrouter.HandlerFunc {
	if a == accessPublic {
		return next
	}
	return func(w http.ResponseWriter, req bunrouter.Request) error {
		st := stateFrom(req.Context())
		secret, queryRefused, err := h.presentedKey(req.Request)
		if err != nil {
			return err
		}
		if secret == "" {
			if queryRefused {
				return &statusError{status: http.StatusUnauthorized, message: errKeyRequired.message,
					details: "Keys in the URL are disabled on this server; send the X-API-Key header."}
			}
			return errKeyRequired
		}
		k, ok := h.keys.match(secret)
		if !ok {
			return h.failedKey(st.client.String())
		}
		st.keyName, st.role = k.name, k.role
		if a == accessWrite && k.role < RoleEditor {
			return errReadOnly
		}
		if a == accessAdmin && k.role < RoleAdmin {
			return errAdminOnly
		}
		return next(w, req)
	}
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
