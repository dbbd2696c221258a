package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/partflow/partflow/internal/config"
	"github.com/partflow/partflow/parts"
)

// keysUsage is the help of partflow keys.
const keysUsage = `usage: partflow keys list
       partflow keys create NAME --role read-only|editor|admin [--roles qa,lead] [--expires 720h]
       partflow keys rotate ID
       partflow keys revoke ID
`

// keysCmd manages the per-person API keys kept in the database. The secret
// of a created or rotated key is printed once; only its SHA-256 is stored.
func (c *cli) keysCmd(ctx context.Context, args []string) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(c.stderr, keysUsage)
		return exitUsage
	}
	sub := args[0]
	fs := c.flagSet("keys " + sub)
	config.AddFlags(fs)
	role := fs.String("role", "", "the key's role: read-only, editor or admin (create)")
	roles := fs.StringSlice("roles", nil, "extra role names for the policy, comma-separated (create)")
	expires := fs.Duration("expires", 0, "the key stops working after this long (create; 0: never)")
	if err := fs.Parse(args[1:]); err != nil {
		fmt.Fprintf(c.stderr, "partflow keys: %v\n%s", err, keysUsage)
		return exitUsage
	}
	want := map[string]int{"list": 0, "create": 1, "rotate": 1, "revoke": 1}
	n, known := want[sub]
	if !known || fs.NArg() != n {
		fmt.Fprint(c.stderr, keysUsage)
		return exitUsage
	}
	cfg, err := config.LoadFlags(fs, c.environ, c.stderr)
	if err != nil {
		c.errorf("%v", err)
		return exitUsage
	}
	a, ok := c.openQuiet(ctx, cfg)
	if !ok {
		return exitError
	}
	defer a.Close()
	if sub == "create" {
		in := parts.NewKey{Name: fs.Arg(0), Role: *role, Roles: *roles}
		if *expires > 0 {
			t := time.Now().Add(*expires).UTC()
			in.ExpiresAt = &t
		}
		secret, k, err := a.svc.CreateKey(ctx, in)
		return c.keyAnswer(k, secret, err)
	}
	if sub == "list" {
		return c.listKeys(ctx, a)
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil {
		c.errorf("keys %s: %q is not a key id", sub, fs.Arg(0))
		return exitUsage
	}
	if sub == "revoke" {
		if err := a.svc.RevokeKey(ctx, id); err != nil {
			c.errorf("keys revoke: %v", err)
			return exitError
		}
		fmt.Fprintf(c.stdout, "revoked key %d\n", id)
		return exitOK
	}
	secret, k, err := a.svc.RotateKey(ctx, id)
	return c.keyAnswer(k, secret, err)
}

// keyAnswer prints a created or rotated key with its secret, once.
func (c *cli) keyAnswer(k *parts.APIKey, secret string, err error) int {
	if err != nil {
		c.errorf("keys: %v", err)
		return exitError
	}
	fmt.Fprintf(c.stdout, "key %d %s (%s)\n%s\nThis secret is shown only now; the server keeps its SHA-256.\n", k.ID, k.Name, k.Role, secret)
	return exitOK
}

func (c *cli) listKeys(ctx context.Context, a *app) int {
	ks, err := a.svc.Keys(ctx)
	if err != nil {
		c.errorf("keys list: %v", err)
		return exitError
	}
	if len(ks) == 0 {
		fmt.Fprintln(c.stdout, "no stored keys")
	}
	at := func(t *time.Time, none string) string {
		if t == nil {
			return none
		}
		return t.Format(time.RFC3339)
	}
	for _, k := range ks {
		state := "active"
		if k.RevokedAt != nil {
			state = "revoked " + at(k.RevokedAt, "")
		}
		fmt.Fprintf(c.stdout, "%d  %s  %s  roles=[%s]  %s...  created %s  expires %s  last used %s  %s\n", k.ID, k.Name, k.Role,
			strings.Join(k.Roles, ","), k.Prefix, at(&k.CreatedAt, ""), at(k.ExpiresAt, "never"), at(k.LastUsedAt, "never"), state)
	}
	return exitOK
}
