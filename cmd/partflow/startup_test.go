package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/partflow/partflow/internal/config"
)

func TestProductionRefusesLowEntropyKeys(t *testing.T) {
	inTempDir(t)
	f := &fakeWork{}
	code, _, errOut := runFake(t, []string{"serve", "--env", "production"},
		[]string{"DATABASE_URL=sqlite:///p.db", "SECRET_KEY=0123456789abcdef"}, f)
	if code != exitUsage || f.served != nil {
		t.Fatalf("exit %d, served %t; want %d without serving", code, f.served != nil, exitUsage)
	}
	if !strings.Contains(errOut, "api_key") || !strings.Contains(errOut, "bits") {
		t.Errorf("stderr %q should name api_key and its entropy", errOut)
	}
	if strings.Contains(errOut, "0123456789abcdef") {
		t.Errorf("stderr shows the key: %q", errOut)
	}
}

func TestDevelopmentWarnsAboutWeakKeys(t *testing.T) {
	inTempDir(t)
	f := &fakeWork{}
	code, _, errOut := runFake(t, []string{"serve"},
		[]string{"SECRET_KEY=a", `PARTFLOW_API_KEYS=[{"name":"ci","key":"` + strongKey + `","role":"editor"},{"name":"kiosk","key":"kiosk1","role":"read-only"}]`}, f)
	if code != exitOK || f.served == nil {
		t.Fatalf("exit %d, served %t; development must still start", code, f.served != nil)
	}
	for _, want := range []string{"warning: api_key", `api_keys[1] (named "kiosk")`} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, `"ci"`) || strings.Contains(errOut, "kiosk1") || strings.Contains(errOut, strongKey) {
		t.Errorf("stderr warns about the strong key or shows a key:\n%s", errOut)
	}
	f = &fakeWork{}
	if _, _, errOut := runFake(t, []string{"serve"}, []string{"SECRET_KEY=" + strongKey}, f); strings.Contains(errOut, "warning") {
		t.Errorf("a strong key is warned about:\n%s", errOut)
	}
}

func TestServeRefusesProductionWithoutKey(t *testing.T) {
	inTempDir(t)
	f := &fakeWork{}
	code, _, errOut := runFake(t, []string{"serve", "--env", "production"}, []string{"DATABASE_URL=sqlite:///p.db"}, f)
	if code != exitUsage || f.served != nil {
		t.Errorf("exit code = %d, served %t; want %d without serving", code, f.served != nil, exitUsage)
	}
	if !strings.Contains(errOut, "api_key") {
		t.Errorf("stderr %q does not name api_key", errOut)
	}
}

func TestMigrateNeedsNoKeyInProduction(t *testing.T) {
	inTempDir(t)
	f := &fakeWork{}
	code, _, errOut := runFake(t, []string{"migrate", "--env", "production"}, []string{"DATABASE_URL=sqlite:///p.db"}, f)
	if code != exitOK || f.migrated == nil {
		t.Fatalf("exit %d, stderr %q, migrated %t; want migrate to run", code, errOut, f.migrated != nil)
	}
	if f.migrated.APIKey != "" {
		t.Errorf("migrate got an API key; none was configured or needed")
	}
}

func TestServeGeneratesKeyBesideTheDatabase(t *testing.T) {
	dir := inTempDir(t)
	var served []string
	run1 := func() string {
		f := &fakeWork{}
		code, out, errOut := runFake(t, nil, []string{"DATABASE_URL=sqlite:///db/parts.db"}, f)
		if code != exitOK || f.served == nil {
			t.Fatalf("exit %d, stderr %q; want serve to run", code, errOut)
		}
		served = append(served, f.served.APIKey)
		return out
	}
	first, second := run1(), run1()
	b, err := os.ReadFile(filepath.Join(dir, "db", config.APIKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(b))
	if served[0] != key || served[1] != key {
		t.Errorf("serve got keys %q, want the stored key both times", served)
	}
	if !strings.Contains(first, key) {
		t.Errorf("first start did not print the generated key: %q", first)
	}
	if strings.Contains(second, key) {
		t.Errorf("second start printed the key again: %q", second)
	}
}
