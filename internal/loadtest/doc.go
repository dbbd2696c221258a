// Package loadtest is Partflow's load tool, behind `partflow bench` and
// `partflow bench-events`: it seeds a running server through its HTTP API
// and measures the web client's requests (throughput, latency, the server's
// CPU time per request and memory), or the change feed (commit-to-client
// latency of event streams and webhooks, subscriber lag, what streams cost
// writers).
//
// It talks to servers only over HTTP, so it measures any deployment: one
// server, several replicas behind one database, or a server in another
// process pinned to its own core. Runs are bounded by their durations and
// stop by themselves.
package loadtest
