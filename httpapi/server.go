package httpapi

import (
	"net/http"
	"time"
)

// Recommended http.Server limits for the API (see NewServer). Uploads and
// conversions are slow on purpose-sized limits: reading a body may take up
// to ReadTimeout, writing a response (a GLB download, a conversion) up to
// WriteTimeout.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 5 * time.Minute
	WriteTimeout      = 5 * time.Minute
	IdleTimeout       = 2 * time.Minute
	MaxHeaderBytes    = 64 << 10
)

// NewServer returns an http.Server for h on addr with the recommended
// timeouts, so slow or idle clients cannot hold connections forever
// (Slowloris). Callers own ListenAndServe and Shutdown.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}
