package config

import (
	"fmt"

	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/parts"
)

// HTTPKeys turns the configured keys into httpapi's: the shared api_key
// as an admin key named "default", then each named key with its role.
func (c *Config) HTTPKeys() ([]httpapi.Key, error) {
	var keys []httpapi.Key
	if c.APIKey != "" {
		keys = append(keys, httpapi.Key{Name: "default", Key: c.APIKey, Role: httpapi.RoleAdmin})
	}
	for _, k := range c.APIKeys {
		role, err := httpapi.ParseRole(k.Role)
		if err != nil {
			return nil, fmt.Errorf("api_keys: key %q: %w", k.Name, err)
		}
		keys = append(keys, httpapi.Key{Name: k.Name, Key: k.Key, Role: role, Roles: k.Roles})
	}
	return keys, nil
}

// HTTPPolicy is the configured authorization policy: the built-in one, or
// an httpapi.RolePolicy with the policy rules.
func (c *Config) HTTPPolicy() httpapi.Policy {
	if len(c.Policy) == 0 {
		return httpapi.BuiltinPolicy{}
	}
	var rp httpapi.RolePolicy
	for _, r := range c.Policy {
		rule := httpapi.RoleRule{Operation: httpapi.Operation(r.Operation), Roles: r.Roles}
		for _, st := range r.From {
			rule.From = append(rule.From, parts.Category(st))
		}
		rp.Rules = append(rp.Rules, rule)
	}
	return rp
}
