package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// clientAddr returns the address of the client: the direct peer, unless the
// peer is a trusted proxy, in which case the right-most address in
// X-Forwarded-For that is not itself a trusted proxy (or X-Real-IP when
// there is no X-Forwarded-For). Headers from any other peer are ignored, so
// they cannot be spoofed.
func (h *handler) clientAddr(r *http.Request) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if !peer.IsValid() || !h.trusted(peer) {
		return peer
	}
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		hops := strings.Split(strings.Join(xff, ","), ",")
		var leftmost netip.Addr
		for i := len(hops) - 1; i >= 0; i-- {
			a := parseAddr(strings.TrimSpace(hops[i]))
			if !a.IsValid() {
				break // a malformed hop: trust nothing further left
			}
			if !h.trusted(a) {
				return a
			}
			leftmost = a
		}
		if leftmost.IsValid() {
			return leftmost
		}
		return peer
	}
	if a := parseAddr(strings.TrimSpace(r.Header.Get("X-Real-IP"))); a.IsValid() {
		return a
	}
	return peer
}

func (h *handler) trusted(a netip.Addr) bool {
	return slices.ContainsFunc(h.opts.TrustedProxies, func(p netip.Prefix) bool { return p.Contains(a) })
}

// parseAddr parses "ip", "ip:port" or "[ipv6]:port", unmapping IPv4-in-IPv6.
func parseAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// requestID returns the client's X-Request-ID when it is short and safe to
// log, else a new random one.
func requestID(in string) string {
	if len(in) > 0 && len(in) <= 64 && strings.Trim(in, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") == "" {
		return in
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// logRequest writes the one log line of a request. It logs the path without
// the query string (which may hold api_key), and never headers or bodies.
func (h *handler) logRequest(r *http.Request, w *responseWriter, st *requestState, start time.Time) {
	status := w.status
	if !w.wroteHeader {
		status = http.StatusOK
	}
	client := "unknown"
	if st.client.IsValid() {
		client = st.client.String()
	}
	attrs := []any{
		"method", r.Method,
		"path", r.URL.Path,
		"status", status,
		"duration", time.Since(start),
		"bytes", w.bytes,
		"request_id", st.id,
		"client", client,
	}
	if st.keyName != "" {
		attrs = append(attrs, "key_name", st.keyName)
	}
	h.log.InfoContext(r.Context(), "request", attrs...)
}

// corsHeaders are the request headers browsers may send cross-origin.
const corsHeaders = "Content-Type, X-API-Key, If-Match, If-None-Match, X-Request-ID"

// cors adds CORS headers for allowed origins and answers preflight requests
// (without auth). It reports whether the request has been answered.
func (h *handler) cors(w http.ResponseWriter, r *http.Request) bool {
	if len(h.opts.CORSOrigins) == 0 {
		return false
	}
	w.Header().Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	any := slices.Contains(h.opts.CORSOrigins, "*")
	allowed := origin != "" && (any || slices.Contains(h.opts.CORSOrigins, origin))
	if allowed {
		if any {
			w.Header().Set("Access-Control-Allow-Origin", "*")
		} else {
			w.Header().Set("Access-Control-Allow-Origin", origin)
		}
		w.Header().Set("Access-Control-Expose-Headers", "ETag, X-Request-ID, Retry-After")
	}
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	w.Header().Add("Vary", "Access-Control-Request-Method")
	w.Header().Add("Vary", "Access-Control-Request-Headers")
	if allowed {
		w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", corsHeaders)
		w.Header().Set("Access-Control-Max-Age", "600")
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}
