package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/v2"
)

// decode decodes and normalises the merged settings into a Config.
func (l *loader) decode() (*Config, error) {
	cfg := &Config{sources: l.sources}
	decodeErr := decode(l.merged, cfg)
	normErr := cfg.normalize()
	if decodeErr == nil && normErr == nil {
		return cfg, nil
	}
	// Report every problem once: a value that failed to decode is left
	// zero, so normalize's complaint about that key is dropped.
	errs := []error{decodeErr}
	reported := map[string]bool{}
	for _, e := range unjoin(decodeErr) {
		var ce *Error
		if errors.As(e, &ce) {
			reported[ce.Key] = true
		}
	}
	for _, e := range unjoin(normErr) {
		var ce *Error
		if errors.As(e, &ce) && reported[ce.Key] {
			continue
		}
		errs = append(errs, e)
	}
	return nil, errors.Join(errs...)
}

// decodeError turns mapstructure's errors into *Error values naming the
// setting and its source.
func decodeError(err error, k *koanf.Koanf, cfg *Config) error {
	var errs []error
	var de *mapstructure.DecodeError
	for _, e := range unjoin(err) {
		if errors.As(e, &de) {
			key := de.Name()
			top := key
			if i := strings.IndexByte(top, '['); i >= 0 {
				top = top[:i]
			}
			msg := de.Unwrap().Error()
			if v, ok := k.Get(key).(string); ok && top == key && !strings.Contains(msg, strconv.Quote(v)) {
				msg = fmt.Sprintf("invalid value %q: %s", v, msg)
			}
			errs = append(errs, &Error{Key: key, Source: cfg.Source(top), Msg: msg})
			continue
		}
		errs = append(errs, fmt.Errorf("config: %w", e))
	}
	return errors.Join(errs...)
}

var (
	byteSizeType = reflect.TypeFor[ByteSize]()
	durationType = reflect.TypeFor[time.Duration]()
)

// byteSizeHook parses sizes with units into ByteSize.
func byteSizeHook(from, to reflect.Type, data any) (any, error) {
	if to != byteSizeType {
		return data, nil
	}
	switch v := data.(type) {
	case string:
		return ParseByteSize(v)
	case float64:
		if v != float64(int64(v)) {
			return nil, fmt.Errorf("invalid size %v: want whole bytes", v)
		}
	}
	return data, nil
}

// durationHook parses durations and refuses unitless numbers, which
// would silently mean nanoseconds.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != durationType {
		return data, nil
	}
	switch v := data.(type) {
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("invalid duration %q: want a number with a unit, e.g. 30s or 2m", v)
		}
		return d, nil
	case time.Duration:
		return v, nil
	case int, int64, float64, uint64:
		return nil, fmt.Errorf("invalid duration %v: needs a unit, e.g. %vs", v, v)
	}
	return data, nil
}

// listHook accepts a comma-separated string where a list of strings is
// expected.
func listHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to.Kind() != reflect.Slice || to.Elem().Kind() != reflect.String {
		return data, nil
	}
	return splitList(data.(string)), nil
}

// unjoin returns the errors joined in err (by errors.Join or a
// multi-error), err alone if it is not joined, or nil for nil.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// decode unmarshals the merged configuration into cfg. Sizes accept
// units, durations need a unit, lists accept comma-separated strings, and
// unknown fields inside api_keys and plugins entries are errors.
func decode(k *koanf.Koanf, cfg *Config) error {
	dc := &mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			byteSizeHook,
			durationHook,
			listHook,
		),
		WeaklyTypedInput: true,
		ErrorUnused:      true,
		Result:           cfg,
		TagName:          "koanf",
	}
	if err := k.UnmarshalWithConf("", cfg, koanf.UnmarshalConf{Tag: "koanf", DecoderConfig: dc}); err != nil {
		return decodeError(err, k, cfg)
	}
	return nil
}
