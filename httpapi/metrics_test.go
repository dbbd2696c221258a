package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/partflow/partflow/httpapi"
)

// scrape GETs /metrics with the admin key and parses the text format.
func scrape(t *testing.T, e *env) map[string]*dto.MetricFamily {
	t.Helper()
	r := e.do(req{method: "GET", path: "/metrics"})
	if r.status != http.StatusOK {
		t.Fatalf("GET /metrics: %d\n%s", r.status, r.body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, r.body)
	}
	return fams
}

// metricValue finds the sample of family name whose labels include want.
func metricValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) (*dto.Metric, bool) {
	f, ok := fams[name]
	if !ok {
		return nil, false
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		return m, true
	}
	return nil, false
}

func TestMetricsCountRequestsByRouteAndAreForAdmins(t *testing.T) {
	var m *httpapi.Metrics
	e := newEnv(t, func(o *httpapi.Options) {
		m = httpapi.NewMetrics(&httpapi.MetricsOptions{
			Replica: "r-1",
			Jobs: func(context.Context) (map[string]int, error) {
				return map[string]int{"queued": 3, "running": 1}, nil
			},
			FeedLag: func(context.Context) (map[string]int64, error) {
				return map[string]int64{"webhook:slack": 7}, nil
			},
		})
		o.Metrics = m
	})
	m.ObserveConversion("stl", 1500*time.Millisecond, nil)
	m.ObserveConversion("stl", time.Second, errors.New("crashed"))
	m.ObserveWebhook("slack", "delivered")
	p := e.create(nil)
	for range 3 {
		e.must(http.StatusOK, req{method: "GET", path: partPath(p, "")})
	}
	e.do(req{method: "GET", path: "/api/parts/999999"})
	if r := e.do(req{method: "GET", path: "/metrics", header: map[string]string{"X-API-Key": readerKey}}); r.status != http.StatusForbidden {
		t.Errorf("/metrics with a read-only key: %d, want 403", r.status)
	}
	fams := scrape(t, e)
	checks := []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"partflow_http_requests_total", map[string]string{"route": "/api/parts/:id", "method": "GET", "status": "200"}, 3},
		{"partflow_http_requests_total", map[string]string{"route": "/api/parts/:id", "method": "GET", "status": "404"}, 1},
		{"partflow_http_requests_total", map[string]string{"route": "/api/parts/", "method": "POST", "status": "201"}, 1},
		{"partflow_http_requests_total", map[string]string{"route": "/metrics", "method": "GET", "status": "403"}, 1},
		{"partflow_http_requests_in_flight", nil, 1}, // the scrape itself
		{"partflow_conversion_jobs", map[string]string{"state": "queued"}, 3},
		{"partflow_conversion_jobs", map[string]string{"state": "done"}, 0},
		{"partflow_feed_lag_events", map[string]string{"subscriber": "webhook:slack"}, 7},
		{"partflow_webhook_deliveries_total", map[string]string{"endpoint": "slack", "outcome": "delivered"}, 1},
		{"partflow_replica_info", map[string]string{"replica": "r-1"}, 1},
	}
	for _, c := range checks {
		mt, ok := metricValue(fams, c.name, c.labels)
		if !ok {
			t.Errorf("%s%v missing", c.name, c.labels)
			continue
		}
		var got float64
		switch {
		case mt.Counter != nil:
			got = mt.Counter.GetValue()
		case mt.Gauge != nil:
			got = mt.Gauge.GetValue()
		}
		if got != c.value {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.value)
		}
	}
	if h, ok := metricValue(fams, "partflow_http_request_duration_seconds", map[string]string{"route": "/api/parts/:id"}); !ok ||
		h.Histogram.GetSampleCount() != 4 {
		t.Errorf("latency histogram of /api/parts/:id: %v, want 4 samples", h)
	}
	if h, ok := metricValue(fams, "partflow_conversion_duration_seconds", map[string]string{"plugin": "stl", "outcome": "ok"}); !ok ||
		h.Histogram.GetSampleCount() != 1 || h.Histogram.GetSampleSum() != 1.5 {
		t.Errorf("conversion histogram: %v, want one 1.5s sample", h)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("Go runtime metric %s missing", name)
		}
	}
}

func TestMetricsWithoutMetricsAnswer404(t *testing.T) {
	e := newEnv(t, nil)
	if r := e.do(req{method: "GET", path: "/metrics"}); r.status != http.StatusNotFound {
		t.Errorf("/metrics without metrics: %d, want 404", r.status)
	}
}

func TestMetricsReportEventStreamClientsAndFeedLag(t *testing.T) {
	e := newEnv(t, func(o *httpapi.Options) { o.Metrics = httpapi.NewMetrics(&httpapi.MetricsOptions{Replica: "r-1"}) })
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	gauge := func(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
		m, ok := metricValue(fams, name, labels)
		if !ok {
			return 0, false
		}
		return m.GetGauge().GetValue(), true
	}
	fams := scrape(t, e)
	if n, ok := gauge(fams, "partflow_event_stream_clients", nil); !ok || n != 0 {
		t.Errorf("stream clients before any stream: %v %v, want 0", n, ok)
	}
	for _, sub := range []string{"event-stream", "library"} {
		if _, ok := gauge(fams, "partflow_feed_lag_events", map[string]string{"subscriber": sub}); ok {
			t.Errorf("lag of %s reported while nothing subscribes", sub)
		}
	}
	e.create(map[string]any{"partId": "P-0"})
	s1 := openStream(t, srv.URL+"/api/events/stream", nil)
	s2 := openStream(t, srv.URL+"/api/events/stream", nil)
	e.create(map[string]any{"partId": "P-1"})
	s1.events(t, 1)
	s2.events(t, 1)
	fams = scrape(t, e)
	if n, _ := gauge(fams, "partflow_event_stream_clients", nil); n != 2 {
		t.Errorf("stream clients = %v, want 2", n)
	}
	// Both streams got the newest event, so the shared subscription and
	// the library's reader are at the head.
	for _, sub := range []string{"event-stream", "library"} {
		if lag, ok := gauge(fams, "partflow_feed_lag_events", map[string]string{"subscriber": sub}); !ok || lag != 0 {
			t.Errorf("lag of %s = %v (reported %v), want 0", sub, lag, ok)
		}
	}
}

// TestMetricsCountHowAnswersWereMet checks partflow_answer_cache_requests_total:
// a first list is built, the same again is a hit, after an edit of a field
// the list is not sorted by it is patched, and after a create it is rebuilt.
func TestMetricsCountHowAnswersWereMet(t *testing.T) {
	e := newEnv(t, func(o *httpapi.Options) { o.Metrics = httpapi.NewMetrics(nil) })
	p := e.create(map[string]any{"partId": "P-0"})
	count := func(outcome string) float64 {
		m, ok := metricValue(scrape(t, e), "partflow_answer_cache_requests_total", map[string]string{"outcome": outcome})
		if !ok {
			t.Fatalf("partflow_answer_cache_requests_total{outcome=%q} missing", outcome)
		}
		return m.GetCounter().GetValue()
	}
	list := func() {
		if r := e.do(req{method: "GET", path: "/api/parts/"}); r.status != http.StatusOK {
			t.Fatalf("list: %d", r.status)
		}
	}
	list()
	list()
	e.do(req{method: "PUT", path: partPath(p, ""), body: map[string]any{"notes": "changed"}})
	list()
	e.create(map[string]any{"partId": "P-1"})
	list()
	for outcome, want := range map[string]float64{"built": 1, "hit": 1, "patched": 1, "rebuilt": 1, "kept": 0} {
		if got := count(outcome); got != want {
			t.Errorf("%s = %v, want %v", outcome, got, want)
		}
	}
}
