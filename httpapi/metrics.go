package httpapi

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/uptrace/bunrouter"

	"github.com/partflow/partflow/parts"
)

// MetricsOptions say where the metrics that are read at scrape time come
// from. Nil functions leave their metrics out.
type MetricsOptions struct {
	// Replica is this server's id, the replica label of partflow_replica_info.
	Replica string
	// DB is the database pool whose statistics (sql.DBStats) are exported.
	DB *sql.DB
	// Jobs counts the conversion jobs by state (queued, running, done,
	// failed), over all servers on the database.
	Jobs func(ctx context.Context) (map[string]int, error)
	// FeedLag returns, per change-feed subscriber, how many events it is
	// behind the head of the log.
	FeedLag func(ctx context.Context) (map[string]int64, error)
}

// Metrics are the server's Prometheus metrics. Pass them in Options.Metrics
// to count requests, and serve them with Handler (GET /metrics for admin
// keys, or on a separate listen address).
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	inflight    prometheus.Gauge
	conversions *prometheus.HistogramVec
	webhooks    *prometheus.CounterVec

	mu      sync.Mutex
	handler *handler // the first handler given these metrics: its stream hub
}

// NewMetrics returns the metrics with the Go runtime and process
// collectors and those opts read at scrape time.
func NewMetrics(opts *MetricsOptions) *Metrics {
	o := MetricsOptions{}
	if opts != nil {
		o = *opts
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "partflow_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status."}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "partflow_http_request_duration_seconds",
			Help: "HTTP request latency, by route pattern and method.", Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12)},
			[]string{"route", "method"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "partflow_http_requests_in_flight",
			Help: "HTTP requests being served (event streams included)."}),
		conversions: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "partflow_conversion_duration_seconds",
			Help: "Converter runs on this server, by plugin and outcome (ok or error).", Buckets: prometheus.ExponentialBuckets(0.05, 2.5, 10)},
			[]string{"plugin", "outcome"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "partflow_webhook_deliveries_total",
			Help: "Webhook delivery attempts, by endpoint and outcome (delivered, retry, failed, gave-up)."}, []string{"endpoint", "outcome"}),
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: "partflow_replica_info",
		Help: "Always 1; the replica label names this server.", ConstLabels: prometheus.Labels{"replica": o.Replica}})
	info.Set(1)
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.latency, m.inflight, m.conversions, m.webhooks, info)
	if o.DB != nil {
		m.reg.MustRegister(collectors.NewDBStatsCollector(o.DB, "partflow"))
	}
	m.reg.MustRegister(&scrapeCollector{o: o, m: m})
	return m
}

// Handler serves the metrics in the Prometheus text format, without any
// access check of its own.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// ObserveConversion records one converter run (parts.ConvertOptions.OnConversion).
func (m *Metrics) ObserveConversion(plugin string, took time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.conversions.WithLabelValues(plugin, outcome).Observe(took.Seconds())
}

// ObserveWebhook records one webhook delivery attempt's outcome
// (webhooks.Options.OnAttempt).
func (m *Metrics) ObserveWebhook(endpoint, outcome string) {
	m.webhooks.WithLabelValues(endpoint, outcome).Inc()
}

// observe records one answered request.
func (m *Metrics) observe(route, method string, status int, took time.Duration) {
	if route == "" {
		route = "other"
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(took.Seconds())
}

// attach makes the metrics report h's event streams and its Service's
// subscriptions; a second handler given the same metrics is not reported.
func (m *Metrics) attach(h *handler) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.handler == nil {
		m.handler = h
	}
}

// Subscriber labels of partflow_feed_lag_events besides MetricsOptions.FeedLag's.
const (
	lagEventStream = "event-stream" // the stream hub's shared subscription
	lagLibrary     = "library"      // the Service's shared log reader
)

// handlerLags adds to lags those of the attached handler's stream hub and
// Service, and returns its stream clients (-1 without a handler).
func (m *Metrics) handlerLags(ctx context.Context, lags map[string]int64) (clients int, err error) {
	m.mu.Lock()
	h := m.handler
	m.mu.Unlock()
	if h == nil {
		return -1, nil
	}
	clients, hubHead, hubRuns := h.hub.stats()
	feed := h.svc.FeedStats()
	if !hubRuns && !feed.Reading {
		return clients, nil
	}
	page, err := h.svc.Events(ctx, parts.EventQuery{After: parts.FromHead, Limit: 1})
	if err != nil {
		return clients, err
	}
	if hubRuns {
		lags[lagEventStream] = max(page.Head-hubHead, 0)
	}
	if feed.Reading {
		lags[lagLibrary] = max(page.Head-feed.Head, 0)
	}
	return clients, nil
}

// scrapeCollector reads job counts and feed lag at scrape time.
type scrapeCollector struct {
	o MetricsOptions
	m *Metrics
}

var (
	jobsDesc = prometheus.NewDesc("partflow_conversion_jobs", "Conversion jobs by state, over all servers on the database.",
		[]string{"state"}, nil)
	lagDesc = prometheus.NewDesc("partflow_feed_lag_events", "Events a change-feed subscriber is behind the head of the log: "+
		"webhook:<endpoint>, event-stream (the event streams' shared subscription, while a client streams), "+
		"library (the shared log reader of every subscription, while one runs).",
		[]string{"subscriber"}, nil)
	clientsDesc = prometheus.NewDesc("partflow_event_stream_clients", "Event stream clients connected to this server.", nil, nil)
	answersDesc = prometheus.NewDesc("partflow_answer_cache_requests_total", "Requests for cacheable answers (lists, "+
		"searches, stats, leaderboard) that needed the answer, by how they were met: hit (kept or being built), "+
		"built (nothing kept), kept (kept, untouched by the writes since), patched (kept, changed parts replaced), "+
		"rebuilt (built again after writes).", []string{"outcome"}, nil)
)

// Describe implements prometheus.Collector.
func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- jobsDesc
	ch <- lagDesc
	ch <- clientsDesc
	ch <- answersDesc
}

// Collect implements prometheus.Collector.
func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c.o.Jobs != nil {
		counts, err := c.o.Jobs(ctx)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(jobsDesc, err)
		}
		for _, state := range []string{"queued", "running", "done", "failed"} {
			ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(counts[state]), state)
		}
	}
	lags := map[string]int64{}
	if c.o.FeedLag != nil {
		var err error
		if lags, err = c.o.FeedLag(ctx); err != nil || lags == nil {
			if err != nil {
				ch <- prometheus.NewInvalidMetric(lagDesc, err)
			}
			lags = map[string]int64{}
		}
	}
	clients, err := c.m.handlerLags(ctx, lags)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(lagDesc, err)
	}
	if clients >= 0 {
		ch <- prometheus.MustNewConstMetric(clientsDesc, prometheus.GaugeValue, float64(clients))
	}
	for sub, lag := range lags {
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(lag), sub)
	}
	c.m.mu.Lock()
	h := c.m.handler
	c.m.mu.Unlock()
	if h != nil {
		st := &h.answers.stats
		for outcome, n := range map[string]int64{"hit": st.hits.Load(), "built": st.built.Load(), "kept": st.kept.Load(),
			"patched": st.patched.Load(), "rebuilt": st.rebuilt.Load()} {
			ch <- prometheus.MustNewConstMetric(answersDesc, prometheus.CounterValue, float64(n), outcome)
		}
	}
}

// metricsRoute remembers the matched route pattern for the request metrics.
func (h *handler) metricsRoute(next bunrouter.HandlerFunc) bunrouter.HandlerFunc {
	return func(w http.ResponseWriter, req bunrouter.Request) error {
		if st, ok := req.Context().Value(stateKey{}).(*requestState); ok {
			st.route = req.Route()
		}
		return next(w, req)
	}
}

// serveMetrics answers GET /metrics (admin keys).
func (h *handler) serveMetrics(w http.ResponseWriter, req bunrouter.Request) error {
	if h.opts.Metrics == nil {
		return errNoMetrics
	}
	h.opts.Metrics.Handler().ServeHTTP(w, req.Request)
	return nil
}

var errNoMetrics = &statusError{status: http.StatusNotFound, message: "Metrics are not enabled on this server"}

// registerMetricsRoute adds GET /metrics.
func (h *handler) registerMetricsRoute(rt *routeTable) {
	rt.add(route{Method: http.MethodGet, Path: "/metrics", Access: accessAdmin, Handler: h.serveMetrics, Doc: op{
		Summary: "Prometheus metrics of this server (admin keys)",
		Description: "The Prometheus text format: requests by route and status with latency histograms, " +
			"requests in flight, database pool, conversion jobs and durations, change-feed lag, webhook " +
			"outcomes, Go runtime. 404 when the server runs without metrics.",
		Responses: map[int]response{200: {Description: "The metrics", ContentType: "text/plain"}},
	}})
}
