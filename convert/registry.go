package convert

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Registry maps conversions to the converters that perform them. The zero
// value is not usable; create one with NewRegistry. It is safe for
// concurrent use. A Registry does not own its converters: closing plugins
// stays the caller's job.
type Registry struct {
	mu    sync.RWMutex
	convs map[Conversion]registered
}

type registered struct {
	conv Converter
	name string
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{convs: make(map[Conversion]registered)}
}

// Register asks conv for its Info and registers it for every conversion it
// lists. It fails, registering nothing, if Info fails, lists no conversions
// or an unknown format, or if another converter already handles one of the
// conversions (the error names it).
func (r *Registry) Register(ctx context.Context, conv Converter) error {
	if conv == nil {
		return errors.New("convert: register nil converter")
	}
	info, err := conv.Info(ctx)
	if err != nil {
		return fmt.Errorf("convert: register: info: %w", err)
	}
	if len(info.Conversions) == 0 {
		return fmt.Errorf("convert: register %q: it lists no conversions", info.Name)
	}
	for _, c := range info.Conversions {
		if !c.From.Known() || !c.To.Known() {
			return fmt.Errorf("convert: register %q: conversion %s: %w", info.Name, c, ErrUnsupportedFormat)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range info.Conversions {
		if prev, ok := r.convs[c]; ok {
			return fmt.Errorf("convert: register %q: %s is already handled by %q", info.Name, c, prev.name)
		}
	}
	for _, c := range info.Conversions {
		r.convs[c] = registered{conv: conv, name: info.Name}
	}
	return nil
}

// Lookup returns the converter registered for from -> to. Otherwise it
// returns an error matching ErrUnsupportedFormat that lists the registered
// conversions.
func (r *Registry) Lookup(from, to Format) (Converter, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if reg, ok := r.convs[Conversion{From: from, To: to}]; ok {
		return reg.conv, nil
	}
	known := make([]string, 0, len(r.convs))
	for c := range r.convs {
		known = append(known, c.String())
	}
	sort.Strings(known)
	list := strings.Join(known, ", ")
	if list == "" {
		list = "none"
	}
	return nil, fmt.Errorf("no converter from %q to %q: %w (registered: %s)", string(from), string(to), ErrUnsupportedFormat, list)
}

// Conversions returns the registered conversions, sorted.
func (r *Registry) Conversions() []Conversion {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Conversion, 0, len(r.convs))
	for c := range r.convs {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Convert looks up the converter for req.From -> req.To and runs it.
func (r *Registry) Convert(ctx context.Context, req Request) (*Stats, error) {
	conv, err := r.Lookup(req.From, req.To)
	if err != nil {
		return nil, err
	}
	return conv.Convert(ctx, req)
}
