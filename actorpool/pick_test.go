package actorpool

import "testing"

func TestPick(t *testing.T) {
	cases := []struct {
		name       string
		inflight   []int
		dead       []bool
		max, cur   int
		want, next int
	}{
		{"empty pool", nil, nil, 2, 0, -1, 0},
		{"all idle: the cursor's turn", []int{0, 0, 0}, []bool{false, false, false}, 2, 1, 1, 2},
		{"cursor wraps", []int{0, 0, 0}, []bool{false, false, false}, 2, 2, 2, 0},
		{"fewest in flight wins", []int{1, 0, 1}, []bool{false, false, false}, 2, 0, 1, 2},
		{"tie after the cursor", []int{1, 1, 1}, []bool{false, false, false}, 2, 2, 2, 0},
		{"full actors are skipped", []int{2, 2, 1}, []bool{false, false, false}, 2, 0, 2, 0},
		{"all full", []int{2, 2}, []bool{false, false}, 2, 1, -1, 1},
		{"dead actors are skipped", []int{0, 1}, []bool{true, false}, 2, 0, 1, 0},
		{"only dead actors", []int{0, 0}, []bool{true, true}, 2, 0, -1, 0},
		{"cursor past a shrunk list", []int{0, 0}, []bool{false, false}, 1, 5, 1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, next := pick(c.inflight, c.dead, c.max, c.cur)
			if got != c.want || next != c.next {
				t.Fatalf("pick(%v, %v, %d, %d) = %d, %d; want %d, %d", c.inflight, c.dead, c.max, c.cur, got, next, c.want, c.next)
			}
		})
	}
}

func TestResolveDefaults(t *testing.T) {
	zero, three := 0, 3
	cases := []struct {
		name                                  string
		o                                     Options
		inFlight, retries, replacements, size int
	}{
		{"defaults", Options{Size: 2}, DefaultMaxInFlight, DefaultMaxRetries, 2 * DefaultMaxRetries, 2},
		{"explicit", Options{Size: 4, MaxInFlight: 1, MaxRetries: &zero, MaxReplacements: &three}, 1, 0, 3, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := c.o.resolve()
			if err != nil {
				t.Fatal(err)
			}
			if r.maxInFlight != c.inFlight || r.maxRetries != c.retries || r.maxReplacements != c.replacements || r.size != c.size {
				t.Fatalf("resolved %+v", r)
			}
		})
	}
}
