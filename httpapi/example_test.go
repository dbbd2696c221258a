package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
)

// ExampleNewHandler mounts the API under a base path with one admin key and
// creates a part through it.
func ExampleNewHandler() {
	ctx := context.Background()
	store, err := bunstore.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	h, err := httpapi.NewHandler(parts.NewService(store, nil), &httpapi.Options{
		BasePath: "/part-management-system",
		Keys:     []httpapi.Key{{Name: "admin", Key: "a-long-random-shared-key", Role: httpapi.RoleAdmin}},
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	// In a program: srv := httpapi.NewServer(":5000", h); srv.ListenAndServe().

	r := httptest.NewRequest("POST", "/part-management-system/api/parts/",
		strings.NewReader(`{"partId":"FRC-7","material":"Aluminium","subsystem":"Drive","amount":"2"}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-API-Key", "a-long-random-shared-key")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)

	var p struct {
		PartID   string `json:"partId"`
		Status   string `json:"status"`
		Category string `json:"category"`
		Amount   int    `json:"amount"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		log.Fatal(err)
	}
	fmt.Println(w.Code == http.StatusCreated, w.Header().Get("ETag"), p.PartID, p.Status, p.Category, p.Amount)
	// Output: true "v1" FRC-7 Pending review 2
}
