package wire

import (
	"bufio"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// The message numbers live in three places: this package, the Python side
// (backend/ray/python/fray_ray/proto.py) and PROTOCOL.md. These tests fail when
// they drift apart, so a number changed in one place cannot ship alone.

// pyConst matches a module-level "NAME = 0x1F" line in proto.py.
var pyConst = regexp.MustCompile(`^([A-Z][A-Z0-9_]*)\s*=\s*(0[xX][0-9a-fA-F]+)\b`)

// mdRow matches a message table row in PROTOCOL.md: "| 0x01 | Hello | ...".
var mdRow = regexp.MustCompile(`^\|\s*(0[xX][0-9a-fA-F]{2})\s*\|\s*([A-Za-z]+)\s*\|`)

// upperSnake turns "CreateActorNested" into "CREATE_ACTOR_NESTED" and
// "HelloOK" into "HELLO_OK", the spelling proto.py uses.
func upperSnake(name string) string {
	var b strings.Builder
	rs := []rune(name)
	for i, r := range rs {
		if i > 0 && unicode.IsUpper(r) && !unicode.IsUpper(rs[i-1]) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

func TestUpperSnake(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Hello", "HELLO"},
		{"HelloOK", "HELLO_OK"},
		{"HelloErr", "HELLO_ERR"},
		{"CreateActorNested", "CREATE_ACTOR_NESTED"},
		{"Release", "RELEASE"},
	} {
		if got := upperSnake(tc.in); got != tc.want {
			t.Errorf("upperSnake(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// scan returns, for every line of path matching re, the name (group 2 for
// PROTOCOL.md rows, group 1 for proto.py) and the hex number.
func scan(t *testing.T, path string, re *regexp.Regexp, nameGroup, numGroup int) map[string]uint8 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	out := map[string]uint8{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := re.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		n, err := strconv.ParseUint(m[numGroup][2:], 16, 8)
		if err != nil {
			continue // a constant that is not a message number (e.g. a size)
		}
		out[m[nameGroup]] = uint8(n)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return out
}

// knownTypes lists every message type this package knows, by name.
func knownTypes() map[string]Type {
	out := map[string]Type{}
	for i := 0; i < 256; i++ {
		if t := Type(i); t.Known() {
			out[t.String()] = t
		}
	}
	return out
}

func TestPythonMessageNumbersAgree(t *testing.T) {
	py := scan(t, "../../backend/ray/python/fray_ray/proto.py", pyConst, 1, 2)
	for name, typ := range knownTypes() {
		pyName := upperSnake(name)
		n, ok := py[pyName]
		if !ok {
			t.Errorf("proto.py lacks %s (Go's Type%s = 0x%02x)", pyName, name, uint8(typ))
			continue
		}
		if n != uint8(typ) {
			t.Errorf("proto.py %s = 0x%02x, Go's Type%s = 0x%02x", pyName, n, name, uint8(typ))
		}
	}
}

func TestProtocolDocAgrees(t *testing.T) {
	doc := scan(t, "PROTOCOL.md", mdRow, 2, 1)
	known := knownTypes()
	for name, typ := range known {
		n, ok := doc[name]
		if !ok {
			t.Errorf("PROTOCOL.md's message table lacks %s (0x%02x)", name, uint8(typ))
			continue
		}
		if n != uint8(typ) {
			t.Errorf("PROTOCOL.md says %s = 0x%02x, Go says 0x%02x", name, n, uint8(typ))
		}
	}
	for name, n := range doc {
		if _, ok := known[name]; !ok && n < 0x40 {
			// 0x40 and up belong to the Ray driver's own ops, documented in
			// the same file but defined in backend/ray.
			t.Errorf("PROTOCOL.md documents %s = 0x%02x, which Go does not define", name, n)
		}
	}
}
