package config

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/partflow/partflow/storage"
)

// MemoryDSN is the storage registry's in-memory SQLite URL.
const MemoryDSN = "sqlite://:memory:"

// NormalizeDatabaseURL turns a configured database URL into the storage
// registry's form and, for a SQLite file, its absolute path.
//
// SQLite accepts the original's SQLAlchemy forms, sqlite:///relative.db
// (relative to the working directory) and sqlite:////absolute/path.db,
// plus sqlite://relative.db, sqlite://:memory: (also sqlite:// and
// sqlite:///:memory:, SQLAlchemy's in-memory spellings), and a bare file
// path. A query string is kept. postgres:// URLs pass through unchanged;
// postgresql:// and SQLAlchemy's postgresql+psycopg2:// become postgres://.
func NormalizeDatabaseURL(raw string) (dsn, path string, err error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", "", errors.New("empty")
	}
	if !schemeRegex.MatchString(raw) {
		if strings.Contains(raw, ":") && !strings.HasPrefix(raw, ".") && !strings.HasPrefix(raw, "/") {
			return "", "", fmt.Errorf("invalid URL %q: want sqlite:///relative.db, sqlite:////absolute.db or sqlite://:memory:", RedactDSN("x://" + raw)[len("x://"):])
		}
		return sqliteFile(raw, "")
	}
	scheme, rest, _ := strings.Cut(raw, "://")
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql", "postgresql+psycopg2":
		if _, err := url.Parse(raw); err != nil {
			return "", "", fmt.Errorf("invalid postgres URL: %v", redactURLError(err))
		}
		return "postgres://" + rest, "", nil
	case "sqlite", "sqlite3":
	default:
		// Any other scheme is the storage registry's to judge: a
		// registered driver gets the URL as it is, an unknown scheme the
		// registry's error listing the known ones.
		if slices.Contains(storage.Schemes(), strings.ToLower(scheme)) {
			return raw, "", nil
		}
		return "", "", fmt.Errorf("%w %q for database_url (known: %s)", storage.ErrUnknownScheme, scheme, strings.Join(storage.Schemes(), ", "))
	}
	rest, query, _ := strings.Cut(rest, "?")
	switch rest {
	case "", ":memory:", "/:memory:":
		return MemoryDSN, "", nil
	}
	// SQLAlchemy: after "sqlite://" comes "/" then the path, so
	// "sqlite:///rel.db" is rel.db and "sqlite:////abs.db" is /abs.db.
	// Without that slash ("sqlite://rel.db") the rest is the path.
	p := strings.TrimPrefix(rest, "/")
	if p == "" {
		return "", "", fmt.Errorf("invalid SQLite URL %q: no file name", raw)
	}
	return sqliteFile(p, query)
}

// sqliteFile returns the DSN and absolute path of a SQLite file.
func sqliteFile(p, query string) (string, string, error) {
	if strings.HasSuffix(p, "/") {
		return "", "", fmt.Errorf("SQLite path %q is a directory; want a file such as %sparts.db", p, p)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", "", fmt.Errorf("SQLite path %q: %v", p, err)
	}
	dsn := "sqlite://" + filepath.ToSlash(abs)
	if query != "" {
		dsn += "?" + query
	}
	return dsn, abs, nil
}

// NormalizeFilesURL turns files_url into file:///ABS/DIR for local
// folders (file://./rel, file:///abs, or a bare path), mem:// for memory,
// and keeps the URLs of other registered file store schemes (s3://...) as
// they are; an unknown scheme gets the storage registry's error listing
// the known ones.
func NormalizeFilesURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errors.New("empty")
	}
	if !schemeRegex.MatchString(raw) {
		if strings.Contains(raw, ":") && !strings.HasPrefix(raw, ".") && !strings.HasPrefix(raw, "/") {
			return "", fmt.Errorf("invalid URL %q: want a folder, file:///dir, mem:// or s3://bucket", raw)
		}
		return fileURL(raw)
	}
	scheme, rest, _ := strings.Cut(raw, "://")
	switch scheme = strings.ToLower(scheme); scheme {
	case "file":
		rest, _, _ = strings.Cut(rest, "?")
		if rest == "" {
			return "", fmt.Errorf("invalid URL %q: no folder", raw)
		}
		return fileURL(rest)
	case "mem":
		return "mem://", nil
	}
	if !slices.Contains(storage.FileSchemes(), scheme) {
		return "", fmt.Errorf("%w %q for files_url (known: %s)", storage.ErrUnknownScheme, scheme, strings.Join(storage.FileSchemes(), ", "))
	}
	if scheme == "s3" || scheme == "gs" || scheme == "azblob" {
		u, err := url.Parse(raw)
		if err != nil {
			return "", fmt.Errorf("invalid URL: %v", redactURLError(err))
		}
		if u.Host == "" {
			return "", fmt.Errorf("invalid URL %q: no bucket", raw)
		}
	}
	return raw, nil
}

// fileURL returns file:// plus the absolute form of the folder p.
func fileURL(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("folder %q: %v", p, err)
	}
	return "file://" + filepath.ToSlash(abs), nil
}

// redactURLError replaces a URL parse error, whose text may quote part of a
// password, with a fixed message.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return errors.New("cannot parse it (percent-encode special characters in the user name and password)")
	}
	return err
}
