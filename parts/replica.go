package parts

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
)

// NewOwnerID returns a new id for a server process: its host name and 6
// random hex digits, e.g. "web-2-3f9a1c". Job leases, logs and metrics name
// a replica by it; it is unique per start, so a restarted server never
// mistakes a lease of its previous life for its own.
func NewOwnerID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "partflow"
	}
	host, _, _ = strings.Cut(host, ".")
	var b [3]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return host + "-" + hex.EncodeToString(b[:])
}
