package parts_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/partflow/partflow/convert"
	"github.com/partflow/partflow/parts"
)

// failingConverter fails every conversion with err, whose text holds the
// kind of internals a plugin host reports.
type failingConverter struct{ err error }

func (c failingConverter) Info(context.Context) (convert.Info, error) {
	return convert.Info{Name: "leaky", Version: "1", Conversions: []convert.Conversion{{From: convert.FormatSTEP, To: convert.FormatGLB}}}, nil
}

func (c failingConverter) Convert(context.Context, convert.Request) (*convert.Stats, error) {
	return nil, c.err
}

// syncBuffer is a bytes.Buffer safe for the service's concurrent logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

const internals = "plugin cascadio: process 48213 crashed during the call (signal: killed); " +
	"stderr: {\"msg\":\"converting /srv/partflow/data/tmp/partflow-plugin-cascadio-1/job-77/input.step\"} " +
	"socket /tmp/plugin3318/plugin.sock; Traceback (most recent call last)"

func TestConversionErrorsHideInternals(t *testing.T) {
	tests := []struct {
		name     string
		sentinel error
		want     string
	}{
		{"crash", convert.ErrCrashed, "The converter crashed on this file"},
		{"timeout", convert.ErrTimeout, "The conversion took too long and was stopped"},
		{"out of memory", errors.Join(convert.ErrOutOfMemory, convert.ErrCrashed), "The converter ran out of memory on this file"},
		{"invalid input", convert.ErrInvalidInput, "The STEP file could not be read"},
		{"too large", convert.ErrTooLarge, "The STEP model is too detailed to convert"},
		{"unknown failure", errors.New("boom"), "The conversion failed"},
	}
	leaks := regexp.MustCompile(`/|\.sock|\bpid\b|process \d+|48213|stderr|Traceback|job-|plugin`)
	for _, tt := range tests {
		t.Run(tt.name+" says one sentence and a reference", func(t *testing.T) {
			logs := &syncBuffer{}
			conv := failingConverter{err: fmt.Errorf("%s: %w", internals, tt.sentinel)}
			e := newFileEnv(t, func(o *parts.Options) {
				withConverter(conv)(o)
				o.Logger = slog.New(slog.NewJSONHandler(logs, nil))
			})
			p := e.newPart(t, parts.TypeCNC)
			e.upload(t, p.ID, "a.step", stepBody)
			got, err := e.svc.ConvertNow(t.Context(), p.ID, "test")
			var ce *parts.ConversionError
			if !errors.As(err, &ce) || !errors.Is(err, tt.sentinel) {
				t.Fatalf("ConvertNow = %v, want a ConversionError wrapping %v", err, tt.sentinel)
			}
			stored, ferr := e.svc.FindPartByID(t.Context(), p.ID)
			if ferr != nil {
				t.Fatal(ferr)
			}
			for where, msg := range map[string]string{"returned part": got.Model.Error, "stored part": stored.Model.Error, "error": err.Error()} {
				if !strings.HasPrefix(msg, tt.want) {
					t.Errorf("%s: %q does not start with %q", where, msg, tt.want)
				}
				if l := leaks.FindString(msg); l != "" {
					t.Errorf("%s: %q leaks %q", where, msg, l)
				}
				if ce.Ref == "" || !strings.HasSuffix(msg, "(reference "+ce.Ref+")") {
					t.Errorf("%s: %q does not end with the reference %q", where, msg, ce.Ref)
				}
			}
			log := logs.String()
			if !strings.Contains(log, `"ref":"`+ce.Ref+`"`) || !strings.Contains(log, "process 48213") {
				t.Errorf("the log lacks the reference or the detail:\n%s", log)
			}
		})
	}
}
