package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestStarterWritesAFileThatLoadsBack: the file Starter writes loads with
// the values it was given and the key, is private, and is not replaced
// without force.
func TestStarterWritesAFileThatLoadsBack(t *testing.T) {
	dir := inTempDir(t)
	s := Starter{Env: "Testing", DatabaseURL: "sqlite:///./data/p.db", FilesURL: "./data/files"}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	if s.Env != ProfileTesting || s.Addr != "127.0.0.1:5000" {
		t.Fatalf("checked starter = %+v, want the testing profile and its address", s)
	}
	key, err := NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "partflow.yaml")
	if err := s.Write(path, key, false); err != nil {
		t.Fatal(err)
	}
	cfg := mustLoad(t, []string{"--config", path}, nil)
	if cfg.Env != ProfileTesting || cfg.APIKey != key || cfg.DatabaseDSN() != "sqlite://"+dir+"/data/p.db" ||
		cfg.FilesDSN() != "file://"+dir+"/data/files" || cfg.Source("api_key").Layer != LayerFile {
		t.Errorf("loaded %+v (database %s, files %s)", cfg, cfg.DatabaseDSN(), cfg.FilesDSN())
	}
	if err := s.Write(path, key, false); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second write without force: err = %v", err)
	}
	if err := s.Write(path, "another-key-0123456789", true); err != nil {
		t.Errorf("write with force: %v", err)
	}
}

func TestStarterCheckNamesEveryBadValue(t *testing.T) {
	s := Starter{Env: "production", Addr: "nohost", DatabaseURL: "sqlite://:memory:", FilesURL: "ftp://x/y"}
	err := s.Check()
	for _, want := range []string{"addr:", "files_url:", "production refuses an in-memory database"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to name %q", err, want)
		}
	}
	if err := (&Starter{Env: "staging"}).Check(); err == nil || !strings.Contains(err.Error(), `unknown profile "staging"`) {
		t.Errorf("unknown profile: err = %v", err)
	}
}
