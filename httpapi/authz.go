package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/partflow/partflow/parts"
)

// Principal is who makes a request: a name, recorded as the actor in the
// history, and roles, which the Policy checks.
type Principal struct {
	// Name identifies the person or program ("ada", "ci"). It must not be
	// empty.
	Name string
	// Roles are what the principal is, e.g. "editor", "qa", "lead". The
	// built-in policy knows RoleReadOnly, RoleEditor and RoleAdmin by their
	// String names.
	Roles []string
}

// HasRole reports whether the principal has role.
func (p Principal) HasRole(role string) bool { return slices.Contains(p.Roles, role) }

// Authenticator turns a request into a Principal. Embedders pass their own
// in Options.Authenticator (a session cookie, mTLS, a reverse proxy's
// identity header from trusted proxies only); without one, the handler
// authenticates the configured API keys (header, query, body) with the
// failed-key limit.
//
// Authenticate returns an error wrapping ErrNoCredentials when the request
// carries none (401 "Authentication required"), or ErrBadCredentials when
// they are wrong (401 "Invalid credentials"). Any other error is a 500.
type Authenticator interface {
	Authenticate(r *http.Request) (Principal, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(r *http.Request) (Principal, error)

// Authenticate calls f(r).
func (f AuthenticatorFunc) Authenticate(r *http.Request) (Principal, error) { return f(r) }

// The refusals an Authenticator returns.
var (
	// ErrNoCredentials: the request carries no credentials.
	ErrNoCredentials = errors.New("no credentials")
	// ErrBadCredentials: the credentials are wrong or expired.
	ErrBadCredentials = errors.New("invalid credentials")
)

// Operation is what a request does, as a Policy sees it: OpRead and OpWrite
// for every authenticated route (by the route's access), and then, for the
// workflow actions, the action's name ("approve", "assign", "complete", ...)
// with the part as it is when the action runs.
type Operation string

// The route-level operations.
const (
	// OpRead is every GET route that needs authentication.
	OpRead Operation = "read"
	// OpWrite is every route that changes something.
	OpWrite Operation = "write"
	// OpAdmin is managing the server (webhooks, API keys).
	OpAdmin Operation = "admin"
)

// Policy decides whether a principal may perform an operation. part is nil
// for OpRead and OpWrite and the part as it is inside the action's
// transaction for workflow actions (so the decision cannot race with another
// change). A refusal is an error; a *Refusal names the rule and is answered
// 403.
type Policy interface {
	Authorize(ctx context.Context, p Principal, op Operation, part *parts.Part) error
}

// Refusal is a Policy's "no": 403 with the rule named.
type Refusal struct {
	// Rule names the rule that refused, e.g. "complete from inspection needs role qa".
	Rule string
}

// Error implements error.
func (r *Refusal) Error() string { return "forbidden: " + r.Rule }

// BuiltinPolicy is the default policy, today's roles: any principal may
// read; writing (and every workflow action) needs the role "editor" or
// "admin"; managing the server (OpAdmin) needs "admin".
type BuiltinPolicy struct{}

// Authorize implements Policy.
func (BuiltinPolicy) Authorize(_ context.Context, p Principal, op Operation, _ *parts.Part) error {
	admin := p.HasRole(RoleAdmin.String())
	switch {
	case op == OpAdmin && !admin:
		return &Refusal{Rule: "managing the server needs the role admin"}
	case op == OpRead || op == OpAdmin || admin || p.HasRole(RoleEditor.String()):
		return nil
	}
	return &Refusal{Rule: "writing needs the role editor or admin"}
}

// RoleRule restricts an operation to roles.
type RoleRule struct {
	// Operation is OpRead, OpWrite or a workflow action ("complete").
	Operation Operation `json:"operation" yaml:"operation"`
	// From, when set, limits the rule to parts in these stages (workflow
	// actions only).
	From []parts.Category `json:"from,omitempty" yaml:"from,omitempty"`
	// Roles are the roles allowed; the principal needs one of them.
	Roles []string `json:"roles" yaml:"roles"`
}

// String describes the rule, as 403 answers name it.
func (r RoleRule) String() string {
	s := string(r.Operation)
	if len(r.From) > 0 {
		from := make([]string, len(r.From))
		for i, c := range r.From {
			from[i] = string(c)
		}
		s += " from " + strings.Join(from, " or ")
	}
	return s + " needs the role " + strings.Join(r.Roles, " or ")
}

// RolePolicy is the built-in policy plus rules by role: every rule that
// matches the operation (and the part's stage, when it has From) must be
// satisfied. For example only qa may complete from inspection, only lead
// may approve or revert:
//
//	RolePolicy{Rules: []RoleRule{
//		{Operation: "complete", From: []parts.Category{"inspection"}, Roles: []string{"qa"}},
//		{Operation: "approve", Roles: []string{"lead"}},
//		{Operation: "revert", Roles: []string{"lead"}},
//	}}
type RolePolicy struct {
	Rules []RoleRule
}

// Authorize implements Policy.
func (rp RolePolicy) Authorize(ctx context.Context, p Principal, op Operation, part *parts.Part) error {
	if err := (BuiltinPolicy{}).Authorize(ctx, p, op, part); err != nil {
		return err
	}
	for _, r := range rp.Rules {
		if r.Operation != op {
			continue
		}
		if len(r.From) > 0 && (part == nil || !slices.Contains(r.From, part.Category)) {
			continue
		}
		if !slices.ContainsFunc(r.Roles, p.HasRole) {
			return &Refusal{Rule: r.String()}
		}
	}
	return nil
}

// Validate checks the rules: known operations, at least one role each.
func (rp RolePolicy) Validate() error {
	var errs []error
	for i, r := range rp.Rules {
		known := r.Operation == OpRead || r.Operation == OpWrite || r.Operation == OpAdmin || slices.Contains(parts.Actions, parts.Action(r.Operation))
		switch {
		case !known:
			errs = append(errs, fmt.Errorf("policy rule %d: unknown operation %q", i+1, r.Operation))
		case len(r.Roles) == 0:
			errs = append(errs, fmt.Errorf("policy rule %d (%s): no roles", i+1, r.Operation))
		case len(r.From) > 0 && (r.Operation == OpRead || r.Operation == OpWrite):
			errs = append(errs, fmt.Errorf("policy rule %d (%s): from applies to workflow actions only", i+1, r.Operation))
		}
	}
	return errors.Join(errs...)
}
