// Package webhooks delivers the change log of a parts.Service to HTTP
// endpoints: each event is a POST of its JSON (or a Slack or Discord
// message) signed with HMAC-SHA256 over the timestamp and the body.
//
// A Manager runs one worker per enabled endpoint. A worker subscribes to
// the log from the endpoint's cursor (the last event it handled, kept in a
// StateStore), so deliveries go out in sequence order and the ones still
// pending when the process stops go out after a restart. Failures that may
// pass (network errors, timeouts, 408, 429, 5xx) are retried with
// exponential backoff and jitter up to a limit; other 4xx and redirects are
// final. An endpoint whose delivery exhausts its retries, or that fails
// DisableAfter deliveries in a row, is disabled with the reason. Every
// attempt is recorded in the endpoint's delivery log.
//
// Several servers on one database share a SharedState (SettingsState, a
// setting updated by compare and swap): each server's Manager writes every
// change (an admin's Put or Delete, a delivery's cursor and log) as an
// atomic update of the saved endpoints, so none overwrites another's, and
// reads them back for List and Get. The one Manager that runs (the server
// holding the "webhooks" lock) reloads them every Options.Refresh (2s) to
// start, stop or restart its workers, and checks before every attempt that
// its endpoint is still saved unchanged and enabled, so disabling or
// changing an endpoint on any server stops deliveries with the old
// settings at once.
//
// Requests go only to https URLs unless an endpoint allows http, and never
// to loopback, private, link-local (cloud metadata), shared or unspecified
// addresses, checked after DNS resolution when the connection is made,
// unless the endpoint allows private addresses. Redirects are not followed.
//
// Receivers verify a delivery with Verify (or the few lines in the README):
// the signature is hex(HMAC-SHA256(secret, timestamp + "." + body)) in the
// Partflow-Signature header as "v1=<hex>", the timestamp (Unix seconds) in
// Partflow-Timestamp, and Partflow-Delivery names the delivery (the same on
// every retry of it).
package webhooks
