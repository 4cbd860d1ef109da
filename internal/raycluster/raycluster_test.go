package raycluster

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseProcAddr(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"0100007F:18EB", "127.0.0.1:6379"},
		{"00000000:1F90", "0.0.0.0:8080"},
		{"00000000000000000000000001000000:0050", "[::1]:80"},
		{"00000000000000000000000000000000:0016", "[::]:22"},
		{"0000000000000000FFFF00000100007F:18EB", "127.0.0.1:6379"}, // v4-mapped
	} {
		got, err := parseProcAddr(c.in)
		if err != nil || got != c.want {
			t.Errorf("parseProcAddr(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "0100007F", "zz00007F:18EB", "0100007F:zz", "01007F:18EB"} {
		if got, err := parseProcAddr(bad); err == nil {
			t.Errorf("parseProcAddr(%q) = %q, want an error", bad, got)
		}
	}
}

func TestQuoteRoundTrip(t *testing.T) {
	for _, v := range []string{"/tmp/ray", "127.0.0.1:6379", "/a b/c", "it's", "", "http://127.0.0.1:8265"} {
		if got := unquote(quote(v)); got != v {
			t.Errorf("unquote(quote(%q)) = %q", v, got)
		}
	}
	if got := unquote(`/a\ b`); got != "/a b" { // bash's printf %q, as the old script wrote
		t.Errorf("unquote of a %%q value = %q", got)
	}
}

func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err == nil {
		t.Fatal("Load of an empty directory: no error")
	}
	st := State{Dir: dir, TempDir: "/tmp/ray x", Address: "127.0.0.1:6379", Dashboard: "http://127.0.0.1:8265"}
	if err := st.save(); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil || got != st {
		t.Fatalf("Load = %+v, %v; want %+v", got, err, st)
	}
	// The format of earlier scripts/ray-cluster.sh versions (no dashboard line).
	if err := os.WriteFile(filepath.Join(dir, StateFile), []byte("temp=/work/.cache/ray\naddress=127.0.0.1:6379\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := Load(dir); err != nil || got.TempDir != "/work/.cache/ray" || got.Dashboard != "" {
		t.Fatalf("Load of the old format = %+v, %v", got, err)
	}
}

func TestInDir(t *testing.T) {
	for _, c := range []struct {
		arg  string
		want bool
	}{
		{"--temp-dir=/tmp/r", true},
		{"--session-dir=/tmp/r/session_1", true},
		{"--logs-dir=/tmp/r/session_1/logs", true},
		{"--temp-dir=/tmp/r2", false}, // another cluster whose dir shares the prefix
		{"/tmp/r/session_1/logs/raylet.out", false},
		{"--gcs-address=/tmp/r", false},
	} {
		if got := inDir(c.arg, "/tmp/r"); got != c.want {
			t.Errorf("inDir(%q) = %v, want %v", c.arg, got, c.want)
		}
	}
}
