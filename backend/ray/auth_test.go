package ray

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// bridgeEnv finds the token as Options.AuthTokenFile documents, replaces Ray's token
// variables with it, drops set-but-empty ones, and never turns token mode on itself.
func TestBridgeEnvToken(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	cached := filepath.Join(root, tokenFile)
	explicit := filepath.Join(root, "explicit-token")
	for p, tok := range map[string]string{cached: "c0ffee", explicit: "beef"} {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(tok), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	empty := filepath.Join(root, "empty-token")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		opts       Options
		env        map[string]string
		dir        string
		want       []string // entries that must be there
		wantNot    []string // variable prefixes that must not
		source     string
		errContain string
	}{
		{name: "explicit file wins over Ray's variables", opts: Options{AuthTokenFile: explicit},
			env: map[string]string{"RAY_AUTH_TOKEN": "other"}, dir: sub,
			want: []string{"RAY_AUTH_TOKEN_PATH=" + explicit}, wantNot: []string{"RAY_AUTH_TOKEN=", "RAY_AUTH_MODE="}, source: explicit},
		{name: "missing explicit file", opts: Options{AuthTokenFile: filepath.Join(root, "nope")}, dir: sub,
			errContain: "Options.AuthTokenFile"},
		{name: "empty explicit file", opts: Options{AuthTokenFile: empty}, dir: sub, errContain: "is empty"},
		{name: "RAY_AUTH_TOKEN", env: map[string]string{"RAY_AUTH_TOKEN": "tok"}, dir: sub,
			want: []string{"RAY_AUTH_TOKEN=tok"}, wantNot: []string{"RAY_AUTH_TOKEN_PATH="}, source: "$RAY_AUTH_TOKEN"},
		{name: "RAY_AUTH_TOKEN_PATH", env: map[string]string{"RAY_AUTH_TOKEN_PATH": explicit}, dir: sub,
			want: []string{"RAY_AUTH_TOKEN_PATH=" + explicit}, source: explicit + " ($RAY_AUTH_TOKEN_PATH)"},
		{name: "the script's file in a parent directory", dir: sub,
			want: []string{"RAY_AUTH_TOKEN_PATH=" + cached}, wantNot: []string{"RAY_AUTH_TOKEN=", "RAY_AUTH_MODE="}, source: cached},
		{name: "none: Ray's rules, empty variables dropped", dir: t.TempDir(),
			wantNot: []string{"RAY_AUTH_TOKEN=", "RAY_AUTH_TOKEN_PATH=", "RAY_AUTH_MODE="}},
		{name: "none: RAY_AUTH_MODE is the user's", env: map[string]string{"RAY_AUTH_MODE": "token"}, dir: t.TempDir(),
			want: []string{"RAY_AUTH_MODE=token"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, v := range []string{"RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"} {
				t.Setenv(v, c.env[v])
			}
			t.Chdir(c.dir)
			env, source, err := c.opts.bridgeEnv()
			if c.errContain != "" {
				if err == nil || !strings.Contains(err.Error(), c.errContain) {
					t.Fatalf("want an error containing %q, got %v", c.errContain, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if source != c.source {
				t.Errorf("source %q, want %q", source, c.source)
			}
			for _, w := range c.want {
				if !slices.Contains(env, w) {
					t.Errorf("missing %s", w)
				}
			}
			for _, kv := range env {
				for _, no := range c.wantNot {
					if strings.HasPrefix(kv, no) {
						t.Errorf("unexpected %s", kv)
					}
				}
			}
		})
	}
}
