package grpcplugin

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
)

// lineLogger is an io.Writer that logs each complete line to a slog.Logger.
// go-plugin hands it what a Go plugin writes to os.Stdout and os.Stderr
// (which go-plugin forwards over gRPC, separately from the real stderr). A
// JSON line with hclog keys (@level, @message) or slog keys (level, msg)
// keeps its level, message and fields; other lines are logged at debug
// level unless they start with [TRACE], [DEBUG], [INFO], [WARN] or [ERROR].
type lineLogger struct {
	log    *slog.Logger
	tail   *tailWriter // may be nil
	stream string

	mu   sync.Mutex
	part []byte
}

func newLineLogger(l *slog.Logger, tail *tailWriter, stream string) *lineLogger {
	return &lineLogger{log: l, tail: tail, stream: stream}
}

// maxLine bounds a buffered partial line; longer lines are split.
const maxLine = 64 << 10

func (w *lineLogger) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			w.part = append(w.part, b...)
			if len(w.part) >= maxLine {
				w.emit(string(w.part))
				w.part = w.part[:0]
			}
			break
		}
		w.part = append(w.part, b[:i]...)
		w.emit(string(w.part))
		w.part = w.part[:0]
		b = b[i+1:]
	}
	return n, nil
}

func (w *lineLogger) emit(line string) {
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return
	}
	if w.tail != nil {
		w.tail.AddLine(line)
	}
	level, msg, attrs := parseLine(line)
	attrs = append(attrs, slog.String("stream", w.stream))
	w.log.LogAttrs(context.Background(), level, msg, attrs...)
}

// parseLine extracts level, message and fields from one log line.
func parseLine(line string) (slog.Level, string, []slog.Attr) {
	if strings.HasPrefix(line, "{") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			levelStr, _ := first(m, "@level", "level").(string)
			msg, ok := first(m, "@message", "msg").(string)
			if ok {
				var attrs []slog.Attr
				for k, v := range m {
					switch k {
					case "@level", "level", "@message", "msg", "@timestamp", "time", "@module":
						continue
					}
					attrs = append(attrs, slog.Any(k, v))
				}
				return levelFromString(levelStr), msg, attrs
			}
		}
	}
	for _, p := range []struct {
		prefix string
		level  slog.Level
	}{{"[TRACE]", slogTrace}, {"[DEBUG]", slog.LevelDebug}, {"[INFO]", slog.LevelInfo}, {"[WARN]", slog.LevelWarn}, {"[ERROR]", slog.LevelError}} {
		if rest, ok := strings.CutPrefix(line, p.prefix); ok {
			return p.level, strings.TrimSpace(rest), nil
		}
	}
	return slog.LevelDebug, line, nil
}

func first(m map[string]any, keys ...string) any {
	for _, k := range keys {
		if v, ok := m[k]; ok {
			return v
		}
	}
	return nil
}

func levelFromString(s string) slog.Level {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "trace":
		return slogTrace
	case "info":
		return slog.LevelInfo
	case "warn", "warning":
		return slog.LevelWarn
	case "error", "fatal", "critical":
		return slog.LevelError
	default:
		return slog.LevelDebug
	}
}
