// Command embedded-auth shows Partflow's REST API mounted inside another
// service: the service has its own login and session cookie, tells the API
// who the user is through an httpapi.Authenticator, restricts who may do
// what with an httpapi.RolePolicy, and runs a custom workflow with an
// inspection stage between fabrication and completed.
//
// Users (demo passwords): ada (editor), quinn (editor, qa). Only qa may
// complete a part that is in inspection.
//
//	go run ./examples/embedded-auth -addr 127.0.0.1:8090
//	curl -c jar -d 'user=ada&password=ada-pw' 127.0.0.1:8090/login
//	curl -b jar 127.0.0.1:8090/tracker/api/parts/
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage"
	_ "github.com/partflow/partflow/storage/bunstore" // registers sqlite://
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	flag.Parse()
	ctx := context.Background()
	app, err := newApp(ctx, "sqlite://:memory:")
	if err != nil {
		fmt.Fprintln(os.Stderr, "embedded-auth:", err)
		os.Exit(1)
	}
	defer app.Close()
	srv := &http.Server{Addr: *addr, Handler: app.Handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("listening on http://%s/ (log in at /login, the API is under /tracker/)\n", *addr)
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "embedded-auth:", err)
		os.Exit(1)
	}
}

// user is an account of the demo service.
type user struct {
	password [sha256.Size]byte // SHA-256 of the password (a real service would use a slow KDF)
	roles    []string
}

// users are the demo accounts.
var users = map[string]user{
	"ada":   {password: sha256.Sum256([]byte("ada-pw")), roles: []string{"editor"}},
	"quinn": {password: sha256.Sum256([]byte("quinn-pw")), roles: []string{"editor", "qa"}},
}

// inspectionWorkflow: finished fabrication waits in inspection; complete
// from there finishes the part, revert sends it back.
func inspectionWorkflow() (*parts.Workflow, error) {
	work := []parts.Category{parts.CategoryCNC, parts.CategoryHand}
	return parts.NewWorkflow(parts.WorkflowSpec{
		Name:   "inspection",
		Stages: []parts.Category{parts.CategoryReview, parts.CategoryCNC, parts.CategoryHand, "inspection", parts.CategoryCompleted},
		Rules: []parts.Rule{
			{Action: parts.ActionApprove, From: []parts.Category{parts.CategoryReview}, To: parts.StageByType},
			{Action: parts.ActionAssign, From: append(work, "inspection")},
			{Action: parts.ActionUnclaim, From: append(work, "inspection")},
			{Action: parts.ActionStart, From: work},
			{Action: parts.ActionComplete, From: work, To: "inspection", Status: parts.StatusPending},
			{Action: parts.ActionComplete, From: []parts.Category{"inspection"}, To: parts.CategoryCompleted},
			{Action: parts.ActionRevert, From: []parts.Category{"inspection", parts.CategoryCompleted}, To: parts.StageByType},
		},
	})
}

// App is the demo service: sessions plus the mounted parts API.
type App struct {
	store    parts.Store
	api      http.Handler
	mu       sync.Mutex
	sessions map[string]string // session token -> user name
}

func newApp(ctx context.Context, dsn string) (*App, error) {
	flow, err := inspectionWorkflow()
	if err != nil {
		return nil, err
	}
	store, err := storage.Open(ctx, dsn, nil)
	if err != nil {
		return nil, err
	}
	a := &App{store: store, sessions: map[string]string{}}
	svc := parts.NewService(store, &parts.Options{Workflow: flow})
	a.api, err = httpapi.NewHandler(svc, &httpapi.Options{
		Authenticator: httpapi.AuthenticatorFunc(a.authenticate),
		Policy: httpapi.RolePolicy{Rules: []httpapi.RoleRule{
			{Operation: "complete", From: []parts.Category{"inspection"}, Roles: []string{"qa"}},
		}},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	return a, nil
}

// Close closes the store.
func (a *App) Close() error { return a.store.Close() }

// Handler is the service's own mux: /login, /logout and the API under /tracker/.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.Handle("/tracker/", http.StripPrefix("/tracker", a.api))
	return mux
}

// authenticate is the API's Authenticator: the session cookie names the user.
func (a *App) authenticate(r *http.Request) (httpapi.Principal, error) {
	c, err := r.Cookie("session")
	if err != nil {
		return httpapi.Principal{}, httpapi.ErrNoCredentials
	}
	a.mu.Lock()
	name, ok := a.sessions[c.Value]
	a.mu.Unlock()
	if !ok {
		return httpapi.Principal{}, httpapi.ErrBadCredentials
	}
	return httpapi.Principal{Name: name, Roles: users[name].roles}, nil
}

func (a *App) login(w http.ResponseWriter, r *http.Request) {
	name, pw := r.PostFormValue("user"), r.PostFormValue("password")
	u, known := users[name]
	sum := sha256.Sum256([]byte(pw))
	if subtle.ConstantTimeCompare(sum[:], u.password[:]) != 1 || !known {
		http.Error(w, "wrong user or password", http.StatusUnauthorized)
		return
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	token := hex.EncodeToString(b)
	a.mu.Lock()
	a.sessions[token] = name
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "session", Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	fmt.Fprintf(w, "hello %s\n", name)
}

func (a *App) logout(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie("session")
	if errors.Is(err, http.ErrNoCookie) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	a.mu.Lock()
	delete(a.sessions, c.Value)
	a.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
