package raycluster

import "testing"

func TestWorkerRange(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want [2]int
		ok   bool
	}{
		{"raylet", []string{"/x/raylet", "--min_worker_port=20000", "--max_worker_port=20999"}, [2]int{20000, 20999}, true},
		{"min only", []string{"/x/raylet", "--min_worker_port=20000"}, [2]int{20000, -1}, false},
		{"not numbers", []string{"/x/raylet", "--min_worker_port=a", "--max_worker_port=b"}, [2]int{0, 0}, false},
		{"inverted", []string{"/x/raylet", "--min_worker_port=3", "--max_worker_port=2"}, [2]int{3, 2}, false},
		{"other process", []string{"less", "raylet.out"}, [2]int{-1, -1}, false},
		{"gone", nil, [2]int{-1, -1}, false},
	} {
		got, ok := workerRange(tc.args)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%s: workerRange = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestOverlaps(t *testing.T) {
	taken := [][2]int{{20000, 20999}, {25000, 25999}}
	for _, tc := range []struct {
		lo   int
		want bool
	}{
		{19000, false}, // 19000-19999 ends just below
		{19001, true},  // reaches 20000
		{20500, true},  // inside
		{21000, false}, // starts just above
		{24001, true},  // reaches the second
		{26000, false},
	} {
		if got := overlaps(tc.lo, 1000, taken); got != tc.want {
			t.Errorf("overlaps(%d, 1000) = %v, want %v", tc.lo, got, tc.want)
		}
	}
}

func TestIsRaylet(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want bool
	}{
		{"its raylet", []string{"/v/ray/core/src/ray/raylet/raylet", "--temp_dir=/tmp/n"}, true},
		{"another node's", []string{"/v/raylet", "--temp_dir=/tmp/m"}, false},
		{"a dir below", []string{"/v/raylet", "--temp_dir=/tmp/n/x"}, false},
		{"not a raylet", []string{"/v/gcs_server", "--temp_dir=/tmp/n"}, false},
		{"nothing", nil, false},
	} {
		if got := isRaylet(tc.args, "/tmp/n"); got != tc.want {
			t.Errorf("%s: isRaylet = %v, want %v", tc.name, got, tc.want)
		}
	}
}
